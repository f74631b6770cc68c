"""PATCH /[type]/[id] and PATCH /[type]?search: JSON Patch and FHIRPath Patch, written
through the update path (validated, versioned, indexed); a patch that fails changes nothing."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.services.resources.patch import JSON_PATCH
from eolc_fhir.subscriptions.receiver import Receiver
from tests.api.test_subscriptions import active_subscription, settings
from tests.builders import make_care_plan, make_register_flag
from tests.builders_basic import NHS, patient
from tests.db_snapshot import snapshot
from tests.security_support import SecureApp, secure, secure_settings
from tests.unit.subscriptions.support import all_event_numbers, notifications

__all__ = ["secure", "secure_settings", "settings"]  # settings: a quick dispatcher

pytestmark = pytest.mark.usefixtures("engine_name")
JSON_PATCH_HEADERS = {"Content-Type": JSON_PATCH}


def op(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    """One FHIRPath Patch operation parameter; ``value`` is a dict like {"valueCode": "x"}."""
    out: list[dict[str, Any]] = [{"name": "type", "valueCode": kind},
                                 {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name == "value":
            out.append({"name": "value", **value})
        elif name == "name":
            out.append({"name": "name", "valueString": value})
        else:
            out.append({"name": name, "valueInteger": value})
    return {"name": "operation", "part": out}


def fhirpath_patch(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(ops)}


async def _create(client: httpx.AsyncClient, resource: dict[str, Any]) -> dict[str, Any]:
    created = await client.post(f"/{resource['resourceType']}", json=resource)
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def _db(client: httpx.AsyncClient) -> Any:
    return client.app.state.ctx.db  # type: ignore[attr-defined]


async def test_json_patch_is_written_like_an_update(client: httpx.AsyncClient) -> None:
    pid = (await _create(client, patient()))["id"]
    ops = [{"op": "test", "path": "/gender", "value": "female"},
           {"op": "replace", "path": "/name/0/family", "value": "Okafor"},
           {"op": "add", "path": "/name/0/given/-", "value": "Ngozi"},
           {"op": "copy", "from": "/name/0", "path": "/name/-"},
           {"op": "move", "from": "/birthDate", "path": "/deceasedDateTime"},
           {"op": "remove", "path": "/active"}]
    resp = await client.patch(f"/Patient/{pid}", content=orjson.dumps(ops),
                              headers=JSON_PATCH_HEADERS)
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == 'W/"2"'
    body = resp.json()
    assert body["name"][0] == {"family": "Okafor", "given": ["Alex", "Ngozi"]}
    assert body["name"][1] == body["name"][0] and "active" not in body
    assert body["deceasedDateTime"] == "1940-05-17" and "birthDate" not in body
    assert (await client.get(f"/Patient/{pid}")).json() == body
    # indexed as the new version: the search finds the new name, not the old one
    assert (await client.get("/Patient?family=Okafor")).json()["total"] == 1
    assert (await client.get("/Patient?family=Example")).json()["total"] == 0
    history = (await client.get(f"/Patient/{pid}/_history")).json()
    assert [e["request"]["method"] for e in history["entry"]] == ["PATCH", "POST"]


@pytest.mark.engines("sqlite")
async def test_fhirpath_patch_every_operation(client: httpx.AsyncClient) -> None:
    pid = (await _create(client, patient(
        identifier=[{"system": NHS, "value": "9912003888"},
                    {"system": "https://gp.example.org/pid", "value": "17"}])))["id"]
    document = fhirpath_patch(
        op("add", "Patient", name="maritalStatus", value={"valueCodeableConcept": {
            "text": "Widowed"}}),
        op("add", "Patient", name="deceased", value={"valueBoolean": False}),
        op("add", "Patient", name="contact", value={"part": [
            {"name": "name", "valueHumanName": {"text": "Sam Example"}},
            {"name": "telecom", "valueContactPoint": {"system": "phone", "value": "0113"}}]}),
        op("insert", "Patient.name[0].given", index=0, value={"valueString": "Dr"}),
        op("move", "Patient.name[0].given", source=0, destination=1),
        op("replace", "Patient.gender", value={"valueCode": "male"}),
        op("replace", "Patient.deceased", value={"valueDateTime": "2026-11-01"}),
        op("delete", "Patient.identifier.where(system = 'https://gp.example.org/pid')"),
        op("delete", "Patient.telecom"),  # not there: nothing to do
    )
    resp = await client.patch(f"/Patient/{pid}", json=document)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["maritalStatus"] == {"text": "Widowed"}
    assert body["contact"] == [{"name": {"text": "Sam Example"},
                                "telecom": [{"system": "phone", "value": "0113"}]}]
    assert body["name"][0]["given"] == ["Alex", "Dr"]
    assert body["gender"] == "male"
    assert body["deceasedDateTime"] == "2026-11-01" and "deceasedBoolean" not in body
    assert body["identifier"] == [{"system": NHS, "value": "9912003888"}]
    assert body["meta"]["versionId"] == "2"


@pytest.mark.engines("sqlite")
async def test_a_failed_patch_changes_nothing_and_says_where(
        client: httpx.AsyncClient) -> None:
    pid = (await _create(client, patient()))["id"]
    plan = await _create(client, make_care_plan())
    before = await snapshot(_db(client))
    cases: list[tuple[str, Any, dict[str, str], int, str]] = [
        # (url, body, headers, status, an expression the outcome must name)
        (f"/Patient/{pid}", [{"op": "test", "path": "/gender", "value": "male"}],
         JSON_PATCH_HEADERS, 422, "Patient.gender"),
        (f"/Patient/{pid}", [{"op": "remove", "path": "/telecom/0"}],
         JSON_PATCH_HEADERS, 422, "Patient.telecom[0]"),
        (f"/Patient/{pid}", [{"op": "replace", "path": "/birthDate", "value": "1940-02-30"}],
         JSON_PATCH_HEADERS, 422, "Patient.birthDate"),
        (f"/Patient/{pid}", [{"op": "remove", "path": "/id"}],
         JSON_PATCH_HEADERS, 422, "Patient.id"),
        (f"/CarePlan/{plan['id']}", [{"op": "remove", "path": "/author"}],
         JSON_PATCH_HEADERS, 422, "CarePlan.author"),
        (f"/Patient/{pid}", fhirpath_patch(op("replace", "Patient.telecom",
                                              value={"valueString": "x"})),
         {}, 422, "Patient.telecom"),
        (f"/Patient/{pid}", fhirpath_patch(op("add", "Patient", name="gender",
                                              value={"valueCode": "male"})),
         {}, 422, "Parameters.parameter[0]"),
        (f"/Patient/{pid}", fhirpath_patch(op("delete", "Patient.name.given.count()")),
         {}, 422, "Patient.name.given.count()"),
        # malformed patch documents: 400
        (f"/Patient/{pid}", {"op": "remove", "path": "/active"}, JSON_PATCH_HEADERS, 400, ""),
        (f"/Patient/{pid}", [{"op": "frobnicate", "path": "/active"}],
         JSON_PATCH_HEADERS, 400, ""),
        (f"/Patient/{pid}", [{"op": "remove", "path": "active"}], JSON_PATCH_HEADERS, 400, ""),
        (f"/Patient/{pid}", fhirpath_patch(op("shuffle", "Patient")), {}, 400,
         "Parameters.parameter[0].part"),
        (f"/Patient/{pid}", fhirpath_patch(op("delete", "Patient.name.(")), {}, 400,
         "Parameters.parameter[0]"),
    ]
    for url, body, headers, status, where in cases:
        resp = await client.patch(url, content=orjson.dumps(body), headers=headers)
        assert resp.status_code == status, (body, resp.text)
        outcome = resp.json()
        assert outcome["resourceType"] == "OperationOutcome"
        expressions = [e for i in outcome["issue"] for e in i.get("expression", [])]
        assert not where or where in expressions, (body, expressions)
    assert await snapshot(_db(client)) == before


@pytest.mark.engines("sqlite")
async def test_if_match_conditional_patch_bundles_and_missing_targets(
        client: httpx.AsyncClient) -> None:
    pid = (await _create(client, patient()))["id"]
    await _create(client, patient(nhs="9912003896", gender="male"))
    await _create(client, patient(nhs="9912003918", gender="male"))
    ops = orjson.dumps([{"op": "replace", "path": "/active", "value": False}])

    async def send(url: str, **headers: str) -> httpx.Response:
        return await client.patch(url, content=ops, headers={**JSON_PATCH_HEADERS, **headers})

    assert (await send(f"/Patient/{pid}", **{"If-Match": 'W/"7"'})).status_code == 412
    ok = await send(f"/Patient/{pid}", **{"If-Match": 'W/"1"'})
    assert ok.status_code == 200 and ok.json()["active"] is False
    found = await send(f"/Patient?identifier={NHS}|9912003888")
    assert found.status_code == 200 and found.json()["meta"]["versionId"] == "3"
    assert (await send("/Patient?gender=male")).status_code == 412  # two match
    assert (await send("/Patient?identifier=nobody")).status_code == 404
    assert (await send("/Patient")).status_code == 400  # no search: not a conditional patch
    assert (await send("/Patient/nobody")).status_code == 404
    assert (await client.delete(f"/Patient/{pid}")).status_code == 204
    assert (await send(f"/Patient/{pid}")).status_code == 410
    wrong_type = await client.patch(f"/Patient/{pid}", content=ops,
                                    headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    not_xml = await client.patch(f"/Patient/{pid}", content=ops,
                                 headers={"Content-Type": "application/fhir+xml"})
    assert not_xml.status_code == 400  # an XML body (a FHIRPath Patch) that is not XML
    await _patch_entries_in_transaction_and_batch(client)
    statement = (await client.get("/metadata")).json()
    interactions = {r["type"]: {i["code"] for i in r["interaction"]}
                    for r in statement["rest"][0]["resource"]}
    assert "patch" in interactions["Patient"] and "patch" not in interactions["AuditEvent"]


@pytest.mark.engines("sqlite")
async def test_patch_needs_update_rights_and_is_audited(secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    created = await secure.http.put("/Patient/eolc-patient-1", headers=gp,
                                    json={**patient(), "id": "eolc-patient-1"})
    assert created.status_code == 201, created.text
    body = orjson.dumps([{"op": "add", "path": "/gender", "value": "male"}])
    reader = await secure.headers("gp", scope="system/Patient.rs", client_id="gp-reader")
    refused = await secure.http.patch("/Patient/eolc-patient-1", content=body,
                                      headers={**reader, "Content-Type": JSON_PATCH})
    assert refused.status_code == 403, refused.text
    resp = await secure.http.patch("/Patient/eolc-patient-1", content=body,
                                   headers={**gp, "Content-Type": JSON_PATCH})
    assert resp.status_code == 200, resp.text
    provenance = await secure.http.get("/Provenance?target=Patient/eolc-patient-1", headers=gp)
    targets = [t["reference"] for e in provenance.json()["entry"]
               for t in e["resource"]["target"]]
    assert "Patient/eolc-patient-1/_history/2" in targets  # the write hooks ran, as for PUT
    admin = await secure.headers("admin")
    audit = await secure.http.get("/AuditEvent?entity=Patient/eolc-patient-1&action=U",
                                  headers=admin)
    assert audit.status_code == 200, audit.text
    events = [e["resource"] for e in audit.json()["entry"]]
    written = [e for e in events if e["outcome"] == "0" and any(
        x["what"]["reference"] == "Patient/eolc-patient-1/_history/2" for x in e["entity"]
        if "what" in x)]
    assert len(written) == 1, events  # the patch's own record, committed with the write
    assert any(e["outcome"] == "4" for e in events)  # and the refused attempt


@pytest.mark.engines("sqlite")
async def test_a_patch_notifies_subscribers_like_an_update(client: httpx.AsyncClient,
                                                           receiver: Receiver) -> None:
    await active_subscription(client, receiver, content="full-resource")
    flag = await _create(client, make_register_flag())
    resp = await client.patch(f"/Flag/{flag['id']}", content=orjson.dumps(
        [{"op": "replace", "path": "/status", "value": "inactive"}]), headers=JSON_PATCH_HEADERS)
    assert resp.status_code == 200, resp.text
    await receiver.wait_for(lambda r: len(all_event_numbers(r)) >= 2)
    entries = [e for b in notifications(receiver.received) for e in b["entry"][1:]]
    assert entries[1]["resource"]["status"] == "inactive"
    assert entries[1]["resource"]["meta"]["versionId"] == "2"


async def _patch_entries_in_transaction_and_batch(client: httpx.AsyncClient) -> None:
    """PATCH entries: a Binary JSON Patch and a FHIRPath Patch, with ifMatch and a search."""
    pid = (await _create(client, patient(nhs="9912003934")))["id"]
    json_patch = base64.b64encode(orjson.dumps(
        [{"op": "replace", "path": "/gender", "value": "other"}])).decode()
    binary = {"resourceType": "Binary", "contentType": JSON_PATCH, "data": json_patch}
    entries = [
        {"resource": binary, "request": {"method": "PATCH", "url": f"Patient/{pid}",
                                         "ifMatch": 'W/"1"'}},
        {"resource": fhirpath_patch(op("add", "Patient", name="deceased",
                                       value={"valueBoolean": True})),
         "request": {"method": "PATCH", "url": f"Patient?identifier={NHS}|9912003934"}},
    ]
    resp = await client.post("/", json={"resourceType": "Bundle", "type": "transaction",
                                        "entry": entries})
    assert resp.status_code == 200, resp.text
    assert [e["response"]["status"] for e in resp.json()["entry"]] == ["200 OK", "200 OK"]
    current = (await client.get(f"/Patient/{pid}")).json()
    assert current["gender"] == "other" and current["deceasedBoolean"] is True
    assert current["meta"]["versionId"] == "3"
    # the same If-Match is stale now: the transaction fails whole, the batch entry alone
    failing = [entries[0], {"resource": patient(nhs="9912003942"),
                            "request": {"method": "POST", "url": "Patient"}}]
    for kind, status in (("transaction", 412), ("batch", 200)):
        resp = await client.post("/", json={"resourceType": "Bundle", "type": kind,
                                            "entry": failing})
        assert resp.status_code == status, resp.text
    statuses = [e["response"]["status"] for e in resp.json()["entry"]]
    assert statuses[0] == "412" and statuses[1].startswith("201")
