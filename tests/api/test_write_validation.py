"""No path stores what the validator refuses: every REST write, Bundle entry and
server-written resource with an invalid resource is refused and leaves every table as it was.

The profile stage runs inside the write path (services/resources/admission.py), not in
the routes; warnings still come back with the response.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.fhir.models import model_class
from eolc_fhir.security.audit import logged_event
from tests.builders import BASE, make_care_plan, make_patient_full
from tests.db_snapshot import snapshot
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

pytestmark = pytest.mark.usefixtures("engine_name")

IDENTIFIER = "https://gp.example.org/care-plans|acp-17"


def _no_author() -> dict[str, Any]:
    """An advance care plan (by its category) without the author the ACP profile requires."""
    return make_care_plan(author=None)


def _far_review() -> dict[str, Any]:
    """Valid, with a warning: a review date far beyond three months."""
    plan = make_care_plan()
    plan["extension"] = [{"url": f"{BASE}/StructureDefinition/eolc-review-date",
                          "valueDate": "2099-01-01"}]
    return plan


def _says_author(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    exprs = [e for i in response.json()["issue"] for e in i.get("expression", [])]
    assert any(e.endswith("CarePlan.author") for e in exprs), exprs


def _db(client: httpx.AsyncClient) -> Any:
    return client.app.state.ctx.db  # type: ignore[attr-defined]


async def test_rest_create_refuses_and_stores_nothing(client: httpx.AsyncClient) -> None:
    before = await snapshot(_db(client))
    _says_author(await client.post("/CarePlan", content=orjson.dumps(_no_author())))
    assert await snapshot(_db(client)) == before


async def test_rest_update_refuses_and_keeps_the_current_version(
        client: httpx.AsyncClient) -> None:
    created = await client.post("/CarePlan", content=orjson.dumps(make_care_plan()))
    assert created.status_code == 201
    plan_id = created.json()["id"]
    before = await snapshot(_db(client))
    _says_author(await client.put(f"/CarePlan/{plan_id}",
                                  content=orjson.dumps({**_no_author(), "id": plan_id})))
    assert await snapshot(_db(client)) == before
    assert (await client.get(f"/CarePlan/{plan_id}")).json()["meta"]["versionId"] == "1"


async def test_conditional_update_refuses_whether_it_would_update_or_create(
        client: httpx.AsyncClient) -> None:
    system, value = IDENTIFIER.split("|")
    plan = make_care_plan(identifier=[{"system": system, "value": value}])
    assert (await client.post("/CarePlan", content=orjson.dumps(plan))).status_code == 201
    before = await snapshot(_db(client))
    invalid = make_care_plan(identifier=[{"system": system, "value": value}], author=None)
    for query in (f"identifier={IDENTIFIER}", "identifier=https://gp.example.org/x|none"):
        _says_author(await client.put(f"/CarePlan?{query}", content=orjson.dumps(invalid)))
    assert await snapshot(_db(client)) == before


async def test_conditional_create_that_matches_still_refuses_an_invalid_body(
        client: httpx.AsyncClient) -> None:
    system, value = IDENTIFIER.split("|")
    identifier = [{"system": system, "value": value}]
    plan = make_care_plan(identifier=identifier)
    assert (await client.post("/CarePlan", content=orjson.dumps(plan))).status_code == 201
    before = await snapshot(_db(client))
    invalid = make_care_plan(identifier=identifier, author=None)
    _says_author(await client.post("/CarePlan", content=orjson.dumps(invalid),
                                   headers={"If-None-Exist": f"identifier={IDENTIFIER}"}))
    assert await snapshot(_db(client)) == before


async def test_transaction_entry_refuses_and_rolls_back_every_entry(
        client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": make_patient_full(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": _no_author(), "request": {"method": "POST", "url": "CarePlan"}},
    ]}
    before = await snapshot(_db(client))
    response = await client.post("/", content=orjson.dumps(bundle))
    assert response.status_code == 422, response.text
    exprs = [e for i in response.json()["issue"] for e in i.get("expression", [])]
    assert "Bundle.entry[1].resource.author" in exprs, exprs
    assert await snapshot(_db(client)) == before


async def test_transaction_put_entry_refuses(client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {**_no_author(), "id": "acp-put"},
         "request": {"method": "PUT", "url": "CarePlan/acp-put"}},
    ]}
    before = await snapshot(_db(client))
    assert (await client.post("/", content=orjson.dumps(bundle))).status_code == 422
    assert await snapshot(_db(client)) == before


async def test_batch_entry_refuses_only_itself(client: httpx.AsyncClient) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": make_patient_full(), "request": {"method": "POST", "url": "Patient"}},
        {"resource": _no_author(), "request": {"method": "POST", "url": "CarePlan"}},
        {"resource": {**_no_author(), "id": "acp-put"},
         "request": {"method": "PUT", "url": "CarePlan/acp-put"}},
    ]}
    before = await snapshot(_db(client))
    response = await client.post("/", content=orjson.dumps(bundle))
    assert response.status_code == 200, response.text
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses[0].startswith("201") and statuses[1:] == ["422", "422"], statuses
    after = await snapshot(_db(client))
    added = set(after["resources"]) - set(before["resources"])
    assert [row[0] for row in added] == ["Patient"]  # the valid entry only
    assert not any(row[1] == "CarePlan" for row in after["resource_history"])


async def test_warnings_come_back_from_every_write_path(client: httpx.AsyncClient) -> None:
    warn = {"Prefer": "return=OperationOutcome"}
    created = await client.post("/CarePlan", content=orjson.dumps(_far_review()), headers=warn)
    assert created.status_code == 201
    assert any(i["severity"] == "warning" for i in created.json()["issue"])
    plan_id = created.headers["Location"].split("/")[-3]
    updated = await client.put(f"/CarePlan/{plan_id}", headers=warn,
                               content=orjson.dumps({**_far_review(), "id": plan_id}))
    assert updated.status_code == 200
    assert any(i["severity"] == "warning" for i in updated.json()["issue"])
    for kind in ("batch", "transaction"):
        bundle = {"resourceType": "Bundle", "type": kind, "entry": [
            {"resource": _far_review(), "request": {"method": "POST", "url": "CarePlan"}}]}
        response = (await client.post("/", content=orjson.dumps(bundle))).json()
        outcome = response["entry"][0]["response"]["outcome"]
        assert any(i["severity"] == "warning" for i in outcome["issue"]), kind


# --- resources the server writes itself ------------------------------------------------


async def _patient(secure: SecureApp) -> dict[str, str]:
    gp = await secure.headers("gp")
    created = await secure.http.put("/Patient/eolc-patient-1", headers=gp,
                                    json={"resourceType": "Patient", "id": "eolc-patient-1"})
    assert created.status_code == 201
    return gp


async def test_invalid_x_provenance_refuses_the_whole_write(secure: SecureApp) -> None:
    gp = await _patient(secure)
    before = await snapshot(secure.ctx.db)
    supplied = {"resourceType": "Provenance", "recorded": "2026-11-30T08:00:00Z",
                "agent": [{"who": {"display": "Dr A Okafor"}}],
                "reason": [{"text": ""}]}  # FHIR JSON has no empty strings
    response = await secure.http.post("/CarePlan", json=make_care_plan(), headers={
        **gp, "X-Provenance": orjson.dumps(supplied).decode()})
    assert response.status_code == 400, response.text
    assert "Provenance.reason[0].text" in response.text
    assert await snapshot(secure.ctx.db) == before


async def test_control_characters_from_a_request_do_not_cost_its_audit(
        secure: SecureApp) -> None:
    gp = await _patient(secure)
    response = await secure.http.get("/Patient/a%01b", headers=gp)
    assert response.status_code == 400
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        [record] = await uow.audit.by_request([response.headers["x-request-id"]])
    event = logged_event(record)
    model_class("AuditEvent").model_validate(event)  # still a valid R4 AuditEvent
    assert event["outcome"] == "4"
    assert event["entity"][0]["what"]["reference"] == "Patient/a\ufffdb"
