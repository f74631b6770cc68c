"""Faults survived: real `eolc-fhir serve` processes on the folder's own PostgreSQL.

The folder starts its own PostgreSQL (not the suite's shared one): the outage test stops
and starts it. Each test gets a fresh migrated database on it. Servers are subprocesses
(``tests.e2e.conftest.start_server``) that the tests kill, stop and restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from eolc_fhir.security.client_side import make_assertion, read_key_file
from eolc_fhir.security.roles import default_scopes
from tests._pg import PgServer, run_sync, running_pg_server
from tests.conftest import migrate
from tests.e2e.conftest import ServerProcess, start_server

__all__ = ["FaultDb", "Clients", "launch", "secure_env", "sigkill", "FHIR_JSON"]

FHIR_JSON = "application/fhir+json"
# Short dispatcher timings keep each test to seconds.
FAST_DISPATCH = {
    "EOLC_DELIVERY_RETRY_BASE_SECONDS": "0.05",
    "EOLC_DELIVERY_RETRY_MAX_SECONDS": "0.3",
    "EOLC_DELIVERY_ERROR_AFTER": "1000",
    "EOLC_DISPATCHER_POLL_SECONDS": "0.2",
    "EOLC_DELIVERY_LEASE_SECONDS": "2",
    "EOLC_LOG_LEVEL": "warning",
}


@dataclass
class FaultDb:
    """A migrated database on the folder's PostgreSQL server."""

    pg: PgServer
    name: str

    @property
    def url(self) -> str:
        return self.pg.url(self.name)

    def query(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.pg.dsn(self.name))
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return run_sync(run)


_TEMPLATE = "faults_template"


@pytest.fixture(scope="session")
def fault_pg() -> Iterator[PgServer]:
    with running_pg_server() as server:
        run_sync(lambda: server.execute(f'CREATE DATABASE "{_TEMPLATE}"'))
        migrate(server.url(_TEMPLATE))  # once; each test gets a copy
        yield server


@pytest.fixture
def fault_db(fault_pg: PgServer) -> Iterator[FaultDb]:
    if not (fault_pg.datadir / "postmaster.pid").exists():
        fault_pg.resume()  # a failed outage test may have left it stopped
    name = fault_pg.create_database(template=_TEMPLATE)
    try:
        yield FaultDb(fault_pg, name)
    finally:
        fault_pg.drop_database(name)


def secure_env(keys: Path) -> dict[str, str]:
    """Authentication on, with the demo clients (one per role) and their keys in ``keys``."""
    return {"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(keys),
            "EOLC_TOKEN_LIFETIME": "3600", "EOLC_RATE_LIMIT_PER_MINUTE": "0"}


async def launch(url: str, tmp: Path, *extra: str, **env: str) -> ServerProcess:
    """Start a server (in a thread: the caller's loop keeps serving its receivers)."""
    return await asyncio.to_thread(start_server, url, tmp, *extra,
                                   env={**FAST_DISPATCH, **env})


async def sigkill(server: ServerProcess) -> None:
    os.kill(server.proc.pid, signal.SIGKILL)
    await asyncio.to_thread(server.proc.wait)


class Clients:
    """Bearer headers for the demo clients of a server started with ``secure_env``."""

    def __init__(self, keys: Path) -> None:
        self.keys = keys

    async def headers(self, base: str, role: str) -> dict[str, str]:
        client_id = f"demo-{role}"
        key = read_key_file(self.keys / f"{client_id}.jwk.json")
        form = {"grant_type": "client_credentials", "scope": default_scopes(role),
                "client_assertion_type":
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": make_assertion(client_id, key, f"{base}/auth/token")}
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            response = await http.post("/auth/token", data=form)
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        return {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON,
                "Accept": FHIR_JSON}
