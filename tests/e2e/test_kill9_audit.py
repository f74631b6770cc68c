"""SIGKILL of a real server (authentication on, SQLite) during a burst of $wishes:
every request that was answered 200 has its audit record after the kill."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest

from eolc_fhir.security.assertion import ASSERTION_TYPE
from eolc_fhir.security.client_side import make_assertion, new_private_key, public_jwks
from eolc_fhir.security.clients import new_client
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.security_repo import SecurityRepository
from tests.builders import VALID_NHS_NUMBERS, make_patient
from tests.e2e.conftest import start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.engines("sqlite")]

FHIR = "application/fhir+json"
WANTED = 300


async def _register(url: str, roles: dict[str, str]) -> dict[str, object]:
    db = Database(url)
    keys: dict[str, object] = {}
    try:
        async with db.unit_of_work() as uow:
            for client_id, role in roles.items():
                key = keys[client_id] = new_private_key("EC")
                record = new_client(client_id=client_id, name=client_id, ods="RYC01", role=role,
                                    scopes=None, jwks=public_jwks(key), jwks_uri=None)
                assert await SecurityRepository(uow.connection, uow.dialect).add_client(record)
    finally:
        await db.close()
    return keys


async def _token(http: httpx.AsyncClient, client_id: str, key: object) -> dict[str, str]:
    form = {"grant_type": "client_credentials", "scope": "system/*.rs" if client_id == "crew"
            else "system/*.crus", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": make_assertion(client_id, key, f"{http.base_url}auth/token")}
    response = await http.post("/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}", "Content-Type": FHIR}


async def test_every_answered_wishes_is_audited_after_sigkill(migrated_url: str,
                                                             tmp_path: Path) -> None:
    keys = await _register(migrated_url, {"crew": "ambulance", "surgery": "gp"})
    server = await asyncio.to_thread(
        start_server, migrated_url, tmp_path,
        env={"EOLC_RATE_LIMIT_PER_MINUTE": "0", "EOLC_RUN_DISPATCHER": "false"})
    answered: list[str] = []
    try:
        async with httpx.AsyncClient(base_url=server.url + "/", timeout=10) as http:
            gp = await _token(http, "surgery", keys["surgery"])
            put = await http.put("/Patient/kill9", json={**make_patient(), "id": "kill9"},
                                 headers=gp)
            assert put.status_code in (200, 201), put.text
            crew = await _token(http, "crew", keys["crew"])
        query = {"identifier": f"https://fhir.nhs.uk/Id/nhs-number|{VALID_NHS_NUMBERS[0]}"}

        async def worker() -> None:
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
                while len(answered) < WANTED:
                    try:
                        response = await http.get("/Patient/$wishes", params=query,
                                                  headers=crew)
                    except httpx.TransportError:
                        return  # killed under us
                    assert response.status_code == 200, response.text
                    answered.append(response.headers["x-request-id"])
                    if len(answered) == WANTED:  # the last answer: kill at once
                        os.kill(server.proc.pid, signal.SIGKILL)
                        return

        await asyncio.gather(*(worker() for _ in range(32)))
        server.proc.wait(timeout=10)
        assert server.proc.returncode == -signal.SIGKILL
    finally:
        server.stop()
    assert len(answered) >= WANTED
    db = Database(migrated_url)
    try:
        async with db.unit_of_work(write=False) as uow:
            found = {r.request_id: r for r in await uow.audit.by_request(answered)}
    finally:
        await db.close()
    missing = [rid for rid in answered if rid not in found]
    assert not missing, f"{len(missing)} of {len(answered)} answered requests have no audit"
    assert all(r.status == 200 and r.patients == ["kill9"] and r.client_id == "crew"
               for r in found.values())
