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
    admin = await secure.headers("admin", client_id="auditor")
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


async def _records(secure: SecureApp, request_ids: list[str]) -> list[Any]:
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        return await uow.audit.by_request(request_ids)


async def test_a_read_is_in_the_log_before_its_answer_arrives(secure: SecureApp) -> None:
    gp, plan = await _setup(secure)
    response = await secure.http.get(f"/CarePlan/{plan}", headers=gp)
    assert response.status_code == 200
    # No flush, no sleep: the record was committed before the answer was sent.
    [record] = await _records(secure, [response.headers["x-request-id"]])
    assert (record.interaction, record.action, record.status) == ("read", "R", 200)
    assert record.client_id == "test-gp" and record.role == "gp"
    assert record.patients == [PATIENT]
    assert record.resources == [f"CarePlan/{plan}/_history/1"]


async def test_a_write_is_one_log_row_in_its_transaction_and_no_resource(
        secure: SecureApp) -> None:
    gp, plan = await _setup(secure)
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        assert await uow.resources.get_current("AuditEvent", "1") is None
        stored = await uow.search.current_batch(["AuditEvent"], None, 10)
    assert stored == []  # the log is not in the resources table any more
    events = await _audits(secure)
    [create] = [e for e in _by(events, "test-gp", "create")
                if f"CarePlan/{plan}/_history/1" in _entities(e)]
    assert create["meta"]["versionId"] == "1"
    read = await secure.http.get(f"/AuditEvent/{create['id']}",
                                 headers=await secure.headers("admin", client_id="auditor"))
    assert read.status_code == 200 and read.json() == create


async def test_concurrent_requests_share_audit_commits(secure: SecureApp) -> None:
    import asyncio

    gp, plan = await _setup(secure)
    trail = secure.ctx.audit_trail
    before = trail.commits
    responses = await asyncio.gather(*[secure.http.get(f"/CarePlan/{plan}", headers=gp)
                                       for _ in range(40)])
    assert [r.status_code for r in responses] == [200] * 40
    commits = trail.commits - before
    assert 1 <= commits < 40, commits
    ids = [r.headers["x-request-id"] for r in responses]
    assert len(await _records(secure, ids)) == 40


async def test_an_audit_that_cannot_be_committed_makes_the_answer_503(
        secure: SecureApp, monkeypatch: Any) -> None:
    from eolc_fhir.storage.audit_repo import AuditRepository
    from eolc_fhir.storage.database import Database

    gp, plan = await _setup(secure)

    async def broken(self: Any, records: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Database, "append_audit", broken)  # reads' group commits
    monkeypatch.setattr(AuditRepository, "append", broken)  # a write's own transaction
    for path in (f"/CarePlan/{plan}", f"/CarePlan?subject=Patient/{PATIENT}",
                 "/Patient/$wishes?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"):
        response = await secure.http.get(path, headers=gp)
        assert response.status_code == 503, (path, response.text)
        assert response.headers["retry-after"]
        assert response.json()["resourceType"] == "OperationOutcome"
        assert plan not in response.text
    # A write's audit row fails inside its transaction: the write rolls back, 503 as well.
    created = await secure.http.post("/CarePlan", json=make_care_plan(subject=REF), headers=gp)
    assert created.status_code == 503, created.text
    monkeypatch.undo()
    assert len(_by(await _audits(secure), "test-gp", "create")) == 2  # _setup's alone


async def test_audit_event_search_parameters_and_paging(secure: SecureApp) -> None:
    gp, plan = await _setup(secure)
    ambulance = await secure.headers("ambulance")
    for _ in range(5):
        assert (await secure.http.get(f"/CarePlan/{plan}", headers=ambulance)).status_code == 200
    assert (await secure.http.get("/CarePlan/nope", headers=ambulance)).status_code == 404
    admin = await secure.headers("admin", client_id="auditor")

    async def ids(query: str) -> list[str]:
        response = await secure.http.get(f"/AuditEvent?{query}", headers=admin)
        assert response.status_code == 200, (query, response.text)
        return [e["resource"]["id"] for e in response.json().get("entry", [])]

    mine = await ids("agent=Device/test-ambulance")
    assert len(mine) == 6 and mine == sorted(mine, key=int, reverse=True)  # newest first
    assert await ids("agent=test-ambulance") == mine
    assert await ids("altid=test-ambulance") == mine
    assert len(await ids(f"agent=Device/test-ambulance&entity=CarePlan/{plan}")) == 5
    assert len(await ids(f"agent=Device/test-ambulance&entity=CarePlan/{plan}/_history/1")) == 5
    assert len(await ids(f"agent=Device/test-ambulance&patient=Patient/{PATIENT}")) == 5
    assert len(await ids(f"agent=Device/test-ambulance&patient={PATIENT}")) == 5
    assert len(await ids("agent=Device/test-ambulance&outcome=4")) == 1
    assert len(await ids("agent=Device/test-ambulance&outcome=0,8")) == 5
    assert len(await ids("agent=Device/test-ambulance&subtype=read&action=R")) == 6
    assert await ids("agent=Device/test-ambulance&subtype=create") == []
    assert len(await ids("agent=Device/test-ambulance&type=rest")) == 6
    assert await ids("agent=Device/test-ambulance&type=login") == []
    assert len(await ids("agent=Device/test-ambulance&date=ge2020-01-01&date=lt2999")) == 6
    assert await ids("agent=Device/test-ambulance&date=lt2020-01-01") == []
    today = (await secure.http.get(f"/AuditEvent/{mine[0]}", headers=admin)).json()
    day = today["recorded"][:10]
    assert len(await ids(f"agent=Device/test-ambulance&date={day}")) == 6
    assert len(await ids(f"agent=Device/test-ambulance&date=eq{day}")) == 6
    assert await ids(f"agent=Device/test-ambulance&date=gt{day}") == []
    assert await ids(f"agent=Device/test-ambulance&date=le{day}") == mine

    # Paging: stable next links (keyset on the record id), nothing lost or repeated.
    seen: list[str] = []
    url: str | None = "/AuditEvent?agent=Device/test-ambulance&_count=4"
    while url:
        page = (await secure.http.get(url, headers=admin)).json()
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
        await secure.http.get(f"/CarePlan/{plan}", headers=ambulance)  # the log grows meanwhile
    assert seen == mine
    count = await secure.http.get("/AuditEvent?agent=test-ambulance&_summary=count",
                                  headers=admin)
    assert count.json()["total"] == 8  # two more reads while paging

    bad = await secure.http.get("/AuditEvent?colour=blue",
                                headers={**admin, "Prefer": "handling=strict"})
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    lenient = await secure.http.get("/AuditEvent?colour=blue&_count=1",
                                    headers={**admin, "Prefer": "handling=lenient"})
    assert lenient.status_code == 200 and len(lenient.json()["entry"]) == 1
    assert (await secure.http.get("/AuditEvent/999999999", headers=admin)).status_code == 404
    assert (await secure.http.get("/AuditEvent/abc", headers=admin)).status_code == 404


async def test_reading_the_log_is_itself_audited(secure: SecureApp) -> None:
    await _setup(secure)
    admin = await secure.headers("admin", client_id="auditor")
    response = await secure.http.get(f"/AuditEvent?patient={PATIENT}", headers=admin)
    assert response.status_code == 200
    shown = [e["resource"]["id"] for e in response.json()["entry"]]
    [record] = await _records(secure, [response.headers["x-request-id"]])
    assert record.interaction == "search-type" and record.client_id == "auditor"
    assert record.patients == [PATIENT]  # whose trail was looked at
    assert record.resources == [f"AuditEvent/{i}" for i in shown]


async def test_the_log_cannot_be_written_through_the_api(secure: SecureApp) -> None:
    await _setup(secure)
    admin = await secure.headers("admin", client_id="auditor")
    some = (await secure.http.get("/AuditEvent?_count=1", headers=admin)).json()
    event = some["entry"][0]["resource"]
    attempts = [("POST", "/AuditEvent"), ("PUT", f"/AuditEvent/{event['id']}"),
                ("DELETE", f"/AuditEvent/{event['id']}"), ("PATCH", f"/AuditEvent/{event['id']}"),
                ("DELETE", "/AuditEvent?agent=Device/test-gp"),
                ("PUT", "/AuditEvent?agent=Device/test-gp")]
    for method, url in attempts:
        response = await secure.http.request(method, url, headers=admin,
                                             content=orjson.dumps(event))
        assert response.status_code == 405, (method, url, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
    for kind in ("transaction", "batch"):
        bundle = {"resourceType": "Bundle", "type": kind, "entry": [
            {"resource": {k: v for k, v in event.items() if k != "id"},
             "request": {"method": "POST", "url": "AuditEvent"}},
            {"request": {"method": "DELETE", "url": f"AuditEvent/{event['id']}"}}]}
        response = await secure.http.post("/", json=bundle, headers=admin)
        if kind == "transaction":
            assert response.status_code == 405, response.text
        else:
            statuses = [e["response"]["status"] for e in response.json()["entry"]]
            assert all(s.startswith("405") for s in statuses), statuses
    again = await secure.http.get(f"/AuditEvent/{event['id']}", headers=admin)
    assert again.status_code == 200 and again.json() == event


async def test_the_retention_purge_removes_old_records_only(secure: SecureApp) -> None:
    from eolc_fhir.security.audit import AuditRecord
    from eolc_fhir.services.audit_trail import purge_expired

    day = 86_400_000_000
    now = 1_900_000_000_000_000
    old = [AuditRecord("read", now - (400 + n) * day, 200, "old-client", "Y01234", f"o{n}",
                       patients=[PATIENT], resources=[f"CarePlan/x{n}/_history/1"])
           for n in range(7)]
    new = [AuditRecord("read", now - n * day, 200, "new-client", "Y01234", f"n{n}",
                       patients=[PATIENT]) for n in range(3)]
    async with secure.ctx.db.unit_of_work() as uow:
        await uow.audit.append(old + new)
    assert await purge_expired(secure.ctx.db, 365, batch=3, now=now) == 7
    assert await purge_expired(secure.ctx.db, 365, batch=3, now=now) == 0
    assert await purge_expired(secure.ctx.db, 0, now=now) == 0  # 0: keep for ever
    left = await _records(secure, [r.request_id for r in old + new])
    assert sorted(r.request_id for r in left) == ["n0", "n1", "n2"]
    admin = await secure.headers("admin", client_id="auditor")
    gone = await secure.http.get("/AuditEvent?entity=CarePlan/x1", headers=admin)
    assert gone.json().get("entry", []) == []
    from sqlalchemy import text

    async with secure.ctx.db.unit_of_work(write=False) as uow:  # their references went too
        refs = await uow.connection.execute(text(
            "SELECT count(*) FROM audit_ref WHERE ref LIKE 'CarePlan/x%'"))
        assert refs.scalar() == 0
        kept = await uow.connection.execute(text(
            f"SELECT count(*) FROM audit_ref WHERE ref = 'Patient/{PATIENT}' AND audit_id IN "
            f"({', '.join(str(r.id) for r in new)})"))
        assert kept.scalar() == 3


async def test_a_wishes_record_is_found_through_its_person(secure: SecureApp) -> None:
    """A $wishes record indexes its person and the shared resources only (storage/audit_repo
    .audit_refs), yet ``entity=`` still finds it for each resource of the document: through
    the people the resource has ever been about and the record's own list. A resource of
    another person's document is not matched, and a deleted one is still found."""
    from sqlalchemy import func, select

    from eolc_fhir.storage.audit_tables import audit_ref

    gp = await secure.headers("gp")
    plans = {}
    for pid, nhs in ((PATIENT, "9000000009"), ("audit-other", "9000000017")):
        patient = {"resourceType": "Patient", "id": pid, "identifier": [
            {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}]}
        assert (await secure.http.put(f"/Patient/{pid}", json=patient,
                                      headers=gp)).status_code in (200, 201)
        created = await secure.http.post("/CarePlan", json=make_care_plan(
            subject={"reference": f"Patient/{pid}"}), headers=gp)
        assert created.status_code == 201, created.text
        plans[pid] = str(created.json()["id"])
    ambulance = await secure.headers("ambulance")
    for nhs in ("9000000009", "9000000017"):
        wishes = await secure.http.get(
            f"/Patient/$wishes?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}",
            headers=ambulance)
        assert wishes.status_code == 200, wishes.text
    admin = await secure.headers("admin", client_id="auditor")

    async def operations(query: str) -> list[dict[str, Any]]:
        response = await secure.http.get(f"/AuditEvent?subtype=operation&{query}",
                                         headers=admin)
        assert response.status_code == 200, (query, response.text)
        return [e["resource"] for e in response.json().get("entry", [])]

    mine = f"CarePlan/{plans[PATIENT]}"
    [record] = await operations(f"entity={mine}")
    assert f"{mine}/_history/1" in _entities(record)
    assert f"Patient/{PATIENT}" in _entities(record)
    [other] = await operations(f"entity=CarePlan/{plans['audit-other']}")
    assert other["id"] != record["id"]
    assert [e["id"] for e in await operations(f"patient={PATIENT}")] == [record["id"]]
    async with secure.ctx.db.unit_of_work(write=False) as uow:  # only the create's own row
        indexed = (await uow.connection.execute(
            select(func.count()).select_from(audit_ref).where(audit_ref.c.ref == mine))).scalar()
    assert indexed == 1
    assert (await secure.http.delete(f"/{mine}", headers=admin)).status_code in (200, 204)
    assert [e["id"] for e in await operations(f"entity={mine}")] == [record["id"]]
