"""Every look and every change is audited (BALP shape); every write gets a Provenance."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from tests.builders import make_care_plan
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

PATIENT = "audit-patient"
REF = {"reference": f"Patient/{PATIENT}"}


async def _audits(secure: SecureApp) -> list[dict[str, Any]]:
    await secure.flush_audits()
    admin = await secure.headers("admin", client_id="auditor")
    await secure.flush_audits()
    response = await secure.http.get("/AuditEvent?_count=500", headers=admin)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])
            if e["resource"]["resourceType"] == "AuditEvent"]


def _by(events: list[dict[str, Any]], client: str, subtype: str) -> list[dict[str, Any]]:
    return [e for e in events if e["agent"][0]["altId"] == client
            and e["subtype"][0]["code"] == subtype]


def _entities(event: dict[str, Any]) -> set[str]:
    return {e["what"]["reference"] for e in event.get("entity", []) if "what" in e}


async def _setup(secure: SecureApp) -> tuple[dict[str, str], str]:
    gp = await secure.headers("gp")
    await secure.http.put(f"/Patient/{PATIENT}", json={"resourceType": "Patient", "id": PATIENT},
                          headers=gp)
    created = await secure.http.post("/CarePlan", json=make_care_plan(subject=REF), headers=gp)
    assert created.status_code == 201
    return gp, str(created.json()["id"])


async def test_a_write_is_audited_in_its_transaction_with_a_provenance(secure: SecureApp) -> None:
    gp, plan = await _setup(secure)
    events = await _audits(secure)
    [create] = [e for e in _by(events, "test-gp", "create")
                if f"CarePlan/{plan}/_history/1" in _entities(e)]
    assert create["type"]["code"] == "rest" and create["action"] == "C"
    assert create["outcome"] == "0"
    assert f"Patient/{PATIENT}" in _entities(create)
    assert create["agent"][0]["who"]["reference"] == "Device/test-gp"
    assert create["agent"][1]["who"]["identifier"]["value"] == "Y01234"
    assert create["source"]["observer"]["display"] == "eolc-fhir"
    provenance = await secure.http.get(f"/Provenance?target=CarePlan/{plan}", headers=gp)
    [entry] = provenance.json()["entry"]
    prov = entry["resource"]
    assert prov["target"] == [{"reference": f"CarePlan/{plan}/_history/1"}]
    assert prov["agent"][0]["who"]["reference"] == "Device/test-gp"
    assert prov["agent"][0]["onBehalfOf"]["identifier"]["value"] == "Y01234"
    assert prov["activity"]["coding"][0]["code"] == "CREATE"


async def test_reads_searches_and_refusals_are_audited(secure: SecureApp) -> None:
    gp, plan = await _setup(secure)
    ambulance = await secure.headers("ambulance")
    assert (await secure.http.get(f"/CarePlan/{plan}", headers=ambulance)).status_code == 200
    query = f"subject=Patient/{PATIENT}&status=active"
    assert (await secure.http.get(f"/CarePlan?{query}", headers=ambulance)).status_code == 200
    assert (await secure.http.post("/CarePlan", json=make_care_plan(subject=REF),
                                   headers=ambulance)).status_code == 403
    assert (await secure.http.get("/CarePlan/nope")).status_code == 401
    events = await _audits(secure)

    [read] = _by(events, "test-ambulance", "read")
    assert read["action"] == "R" and read["outcome"] == "0"
    assert _entities(read) == {f"CarePlan/{plan}/_history/1", f"Patient/{PATIENT}"}
    [search] = _by(events, "test-ambulance", "search-type")
    assert search["action"] == "E"
    [query_entity] = [e for e in search["entity"] if e["role"]["code"] == "24"]
    assert base64.b64decode(query_entity["query"]).decode() == query
    assert f"Patient/{PATIENT}" in _entities(search)
    [denied] = _by(events, "test-ambulance", "create")
    assert denied["outcome"] == "4" and "403" in denied["outcomeDesc"]
    [anonymous] = _by(events, "anonymous", "read")
    assert anonymous["outcome"] == "4" and "401" in anonymous["outcomeDesc"]
    assert _entities(anonymous) == set()


async def test_audit_events_are_for_admin_and_the_coordination_centre_only(
        secure: SecureApp) -> None:
    await _setup(secure)
    await secure.flush_audits()
    for role, status in (("admin", 200), ("coordination-centre", 200), ("gp", 403),
                         ("ambulance", 403)):
        headers = await secure.headers(role)
        response = await secure.http.get("/AuditEvent?agent=Device/test-gp", headers=headers)
        assert response.status_code == status, role
        if status == 200:
            assert response.json()["entry"], "search by agent finds the gp's audits"
    admin = await secure.headers("admin")
    some = (await secure.http.get("/AuditEvent", headers=admin)).json()["entry"][0]["resource"]
    for method in ("PUT", "DELETE"):
        response = await secure.http.request(method, f"/AuditEvent/{some['id']}", headers=admin,
                                             content=orjson.dumps(some))
        assert response.status_code == 405
    for param in ("patient=Patient/" + PATIENT, "action=C", "outcome=0",
                  "date=ge2020-01-01", f"entity=Patient/{PATIENT}"):
        response = await secure.http.get(f"/AuditEvent?{param}", headers=admin)
        assert response.status_code == 200, (param, response.text)
        assert response.json().get("entry"), param


async def test_x_provenance_replaces_the_generated_one(secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    supplied = {"resourceType": "Provenance", "recorded": "2026-11-30T08:00:00Z",
                "agent": [{"who": {"display": "Dr A Okafor"}}],
                "reason": [{"text": "ward round"}]}
    headers = {**gp, "X-Provenance": orjson.dumps(supplied).decode()}
    created = await secure.http.post("/CarePlan", json=make_care_plan(subject=REF),
                                     headers=headers)
    assert created.status_code == 201
    plan = created.json()["id"]
    found = (await secure.http.get(f"/Provenance?target=CarePlan/{plan}", headers=gp)).json()
    [entry] = found["entry"]
    assert entry["resource"]["reason"] == [{"text": "ward round"}]
    assert entry["resource"]["target"] == [{"reference": f"CarePlan/{plan}/_history/1"}]
    bad = await secure.http.post("/CarePlan", json=make_care_plan(subject=REF),
                                 headers={**gp, "X-Provenance": "{not json"})
    assert bad.status_code == 400


async def test_read_audits_are_written_at_shutdown(secure_settings: Any) -> None:
    import httpx

    from eolc_fhir.app import create_app
    from tests.security_support import SecureApp as App

    app = create_app(secure_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            secure = App(http, app)
            gp = await secure.headers("gp")
            assert (await http.get("/Patient", headers=gp)).status_code == 200
            queued = len(app.state.ctx.security.audit)
            assert queued >= 1
    app = create_app(secure_settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            secure = App(http, app)
            events = await _audits(secure)
    assert _by(events, "test-gp", "search-type")


async def test_a_rolled_back_transaction_is_audited_as_failed(secure: SecureApp) -> None:
    gp, plan = await _setup(secure)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": make_care_plan(subject=REF), "request": {"method": "POST",
                                                               "url": "CarePlan"}},
        {"resource": {**make_care_plan(subject=REF), "id": plan},
         "request": {"method": "PUT", "url": f"CarePlan/{plan}", "ifMatch": 'W/"9"'}}]}
    response = await secure.http.post("/", json=bundle, headers=gp)
    assert response.status_code == 412
    events = await _audits(secure)
    [failed] = _by(events, "test-gp", "batch")
    assert failed["outcome"] == "4" and "412" in failed["outcomeDesc"]
    assert len(_by(events, "test-gp", "create")) == 2  # _setup's two; the rolled-back one: none
    provenances = (await secure.http.get("/Provenance", headers=gp)).json()["entry"]
    assert len(provenances) == 2  # the Patient and the CarePlan of _setup, nothing more


async def test_a_backlog_is_written_in_chunks_and_nothing_is_lost(secure: SecureApp) -> None:
    from eolc_fhir.security.audit import AuditRecord, audit_event
    from eolc_fhir.services.security_hooks import flush_audits

    state = secure.ctx.security
    for n in range(1_100):  # more than two chunks
        state.audit.put(audit_event(AuditRecord("read", 1_700_000_000_000_000 + n, 200,
                                                "backlog-client", "Y01234", f"req-{n}")))
    assert await flush_audits(secure.ctx, state) == 50  # one chunk per transaction
    await secure.flush_audits()
    assert len(state.audit) == 0
    admin = await secure.headers("admin", client_id="auditor")
    found = await secure.http.get("/AuditEvent?agent=Device/backlog-client&_summary=count",
                                  headers=admin)
    assert found.status_code == 200, found.text
    assert found.json()["total"] == 1_100
