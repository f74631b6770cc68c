"""Security headers, rate limits, Subscription ownership and logs without patient data."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.config import Settings
from tests.builders import make_care_plan, make_patient
from tests.security_support import SecureApp, secure

__all__ = ["secure"]


@pytest.fixture
def secure_settings(migrated_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=migrated_url, base_url="http://test", run_dispatcher=False,
                    demo_keys_dir=tmp_path / "keys",
                    rate_limit_per_minute=60, rate_limit_burst=30)


async def test_every_response_carries_the_security_headers(secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    for path, headers in (("/metadata", {}), ("/healthz", {}), ("/Patient", {}),
                          ("/Patient", gp), ("/Nope/x", gp),
                          ("/Patient?_format=xml", gp)):
        response = await secure.http.get(path, headers=headers)
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["x-frame-options"] == "DENY", path
        assert response.headers["referrer-policy"] == "no-referrer", path
        assert "default-src 'none'" in response.headers["content-security-policy"], path
        assert response.headers["x-request-id"], path
        assert "cache-control" in response.headers, path


async def test_a_client_over_its_rate_gets_429(secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    other = await secure.headers("ambulance")
    statuses = [(await secure.http.get("/Patient", headers=gp)).status_code for _ in range(32)]
    assert statuses.count(429) >= 1 and statuses[0] == 200
    refused = await secure.http.get("/Patient", headers=gp)
    assert refused.status_code == 429
    assert refused.json()["issue"][0]["code"] == "throttled"
    assert int(refused.headers["retry-after"]) >= 1
    assert (await secure.http.get("/Patient", headers=other)).status_code == 200


async def test_a_client_s_own_rate_limit_replaces_the_default(secure: SecureApp) -> None:
    crews = await secure.headers("ambulance", client_id="crews")
    gp = await secure.headers("gp")
    async with secure.ctx.db.unit_of_work() as uow:  # as `clients set-rate-limit` does
        assert await uow.security.set_rate_limit("crews", 5)
        assert await uow.security.set_rate_limit("test-gp", 0)  # 0: none
    statuses = [(await secure.http.get("/Flag", headers=crews)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    statuses = [(await secure.http.get("/Flag", headers=gp)).status_code for _ in range(40)]
    assert statuses == [200] * 40  # the default (burst 30) would have refused some


async def test_requests_arriving_together_share_one_read_of_their_client_s_limit(
        secure: SecureApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every 30 s a client's limit is read again; the requests that find it stale at once
    wait for one read, not one each."""
    from eolc_fhir.storage.security_repo import SecurityRepository

    await secure.headers("ambulance", client_id="crews")  # registers the client
    async with secure.ctx.db.unit_of_work() as uow:
        assert await uow.security.set_rate_limit("crews", 500)
    reads: list[str] = []
    real = SecurityRepository.rate_limit

    async def counting(self: SecurityRepository, client_id: str) -> Any:
        reads.append(client_id)
        await asyncio.sleep(0.05)  # the read takes a while: the others arrive meanwhile
        return await real(self, client_id)

    monkeypatch.setattr(SecurityRepository, "rate_limit", counting)
    state = secure.ctx.security
    assert state is not None
    limits = await asyncio.gather(*(state.rate_limit_of("crews") for _ in range(16)))
    assert limits == [500] * 16 and reads == ["crews"]
    assert await state.rate_limit_of("crews") == 500 and reads == ["crews"]  # kept 30 s
    state._limits.clear()  # as if 30 s had passed
    assert await state.rate_limit_of("crews") == 500 and reads == ["crews", "crews"]


async def test_subscriptions_belong_to_their_creator(secure: SecureApp) -> None:
    from tests.unit.subscriptions.support import subscription

    mine = await secure.headers("hospital")
    theirs = await secure.headers("coordination-centre")
    admin = await secure.headers("admin")
    created = await secure.http.post(
        "/Subscription", json=subscription("https://hooks.example.org/eolc", status="off"),
        headers=mine)
    assert created.status_code == 201, created.text
    sub = created.json()
    assert (await secure.http.get(f"/Subscription/{sub['id']}", headers=mine)).status_code == 200
    assert (await secure.http.get(f"/Subscription/{sub['id']}", headers=theirs)
            ).status_code == 403
    assert (await secure.http.put(f"/Subscription/{sub['id']}", json=sub, headers=theirs)
            ).status_code == 403
    assert (await secure.http.get(f"/Subscription/{sub['id']}/$status", headers=theirs)
            ).status_code == 403
    assert (await secure.http.get(f"/Subscription/{sub['id']}/$events", headers=theirs)
            ).status_code == 403
    statuses = (await secure.http.get("/Subscription/$status", headers=theirs)).json()
    assert not statuses.get("entry"), "others' subscription statuses are hidden"
    statuses = (await secure.http.get("/Subscription/$status", headers=mine)).json()
    assert len(statuses["entry"]) == 1
    sneaky = await secure.http.put(f"/Subscription?_id={sub['id']}", json={
        **sub, "reason": "taken over"}, headers=theirs)
    assert sneaky.status_code == 403  # found by search, still not theirs to change
    listed = (await secure.http.get("/Subscription", headers=theirs)).json()
    assert not [e for e in listed.get("entry", []) if e["resource"]["id"] == sub["id"]]
    listed = (await secure.http.get("/Subscription", headers=mine)).json()
    assert [e for e in listed["entry"] if e["resource"]["id"] == sub["id"]]
    assert (await secure.http.get(f"/Subscription/{sub['id']}", headers=admin)).status_code == 200


async def test_logs_carry_ids_never_names_or_nhs_numbers(
        secure: SecureApp, caplog: pytest.LogCaptureFixture) -> None:
    # The server's default level, and everything of our own. (aiosqlite's DEBUG output
    # quotes SQL parameters: never run production at debug level.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="eolc_fhir")
    gp = await secure.headers("gp")
    ambulance = await secure.headers("ambulance")
    patient = make_patient(name=[{"family": "Quennell-Abernathy", "given": ["Philippa"]}])
    nhs = patient["identifier"][0]["value"]
    created = await secure.http.post("/Patient", json=patient, headers=gp)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    ref = {"reference": f"Patient/{pid}"}
    await secure.http.post("/CarePlan", json=make_care_plan(subject=ref), headers=gp)
    await secure.http.get(f"/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}",
                          headers=ambulance)
    await secure.http.get("/Patient?name=Quennell-Abernathy", headers=ambulance)
    await secure.http.post("/Patient", json={**patient, "birthDate": "not-a-date"}, headers=gp)
    await secure.http.post("/CarePlan", json=make_care_plan(subject=ref), headers=ambulance)
    await secure.http.get(f"/Patient/{pid}", headers={"Authorization": "Bearer forged"})
    # httpx's own lines are the test client's (its URLs carry our query strings).
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
                     if not r.name.startswith(("httpx", "httpcore")))
    assert pid in text and "test-gp" in text  # ids are logged...
    for secret in ("Quennell", "Philippa", nhs):  # ... names and NHS numbers never
        assert secret not in text


async def test_the_token_endpoint_is_rate_limited_per_address(secure: SecureApp) -> None:
    await secure.register("busy", "gp")
    statuses = []
    for _ in range(32):
        response = await secure.http.post(
            "/auth/token", data=secure.form("busy", "system/*.rs"),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        statuses.append(response.status_code)
    assert statuses[0] == 200 and statuses[-1] == 429
    assert response.json()["error"] == "slow_down"


async def test_the_capability_statement_declares_smart_and_a_read_only_audit(
        secure: SecureApp) -> None:
    statement = (await secure.http.get("/metadata")).json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = security["extension"][0]["extension"]
    assert {"url": "token", "valueUri": "http://test/auth/token"} in uris
    assert "documentation" not in statement["rest"][0]  # no insecure-dev warning
    [audit] = [r for r in statement["rest"][0]["resource"] if r["type"] == "AuditEvent"]
    codes = {i["code"] for i in audit["interaction"]}
    assert codes == {"read", "search-type"}
    assert {p["name"] for p in audit["searchParam"]} == {
        "patient", "entity", "agent", "altid", "date", "type", "subtype", "action", "outcome"}


async def test_a_bundle_that_cannot_be_filtered_is_not_sent(secure: SecureApp,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    gp = await secure.headers("gp")

    async def broken() -> frozenset[str]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(secure.ctx.security, "withdrawn_patients", broken)
    response = await secure.http.get("/Patient", headers=gp)
    assert response.status_code == 500
    assert response.json()["resourceType"] == "OperationOutcome"
