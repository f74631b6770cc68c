"""A database that is locked, unreachable or whose connection dropped answers 503 with
Retry-After and an OperationOutcome, on every path (lean GETs, routes, writes), never a
bare 500; and the server recovers once the database is back."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.engine import make_url

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.fhir.errors import ServiceUnavailable
from eolc_fhir.storage.database import Database
from tests._pg import PgServer, run_sync, running_pg_server
from tests.api.conftest import FHIR
from tests.api.test_lean_paths import _lean
from tests.api.test_wishes import NUMBER, PID, QUERY, _record
from tests.builders import make_patient
from tests.builders_basic import patient
from tests.security_support import SecureApp

LEAN_GETS = [f"/Patient/{PID}", f"/Patient?identifier={QUERY['identifier']}",
             f"/Patient/$wishes?identifier={QUERY['identifier']}"]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert int(response.headers["retry-after"]) > 0
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "transient"
    assert "retry" in outcome["issue"][0]["diagnostics"]


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return Settings(database_url=migrated_url, insecure_dev=True, base_url="http://test",
                    db_busy_timeout_seconds=0.2, db_connect_timeout_seconds=2,
                    run_dispatcher=False)


# --- SQLite -----------------------------------------------------------------------------

def _sqlite_file(url: str) -> str:
    path = make_url(url).database
    assert path
    return path


@pytest.fixture
def write_lock(settings: Settings) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding SQLite's write lock."""
    holder = sqlite3.connect(_sqlite_file(settings.database_url), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        holder.close()


@pytest.mark.engines("sqlite")
async def test_sqlite_locked_write_is_503_then_recovers(client: httpx.AsyncClient,
                                                        write_lock: sqlite3.Connection) -> None:
    resp = await client.post("/Patient", json=patient())
    assert_unavailable(resp)
    assert "busy" in resp.json()["issue"][0]["diagnostics"]
    write_lock.rollback()
    assert (await client.post("/Patient", json=patient())).status_code == 201


class _LockedReader:
    """The lean paths' sqlite3 connection while another connection holds the database
    exclusively (in WAL mode readers are only blocked by such a lock, e.g. a
    ``locking_mode=EXCLUSIVE`` process: stood in for here, SQLite's own error)."""

    def execute(self, *_args: Any) -> Any:
        raise sqlite3.OperationalError("database is locked")


@pytest.mark.engines("sqlite")
async def test_sqlite_locked_lean_reads_are_503(client: httpx.AsyncClient,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    await _record(client)
    db = client.app.state.ctx.db  # type: ignore[attr-defined]
    monkeypatch.setattr(db, "sqlite_reader", lambda: _LockedReader())
    for path in LEAN_GETS:
        lean_path, _, query = path.partition("?")
        status, body, reached = await _lean(client, lean_path, query)
        # answered by the lean door itself, not handed on to wait again on the router
        assert (status, reached) == (503, 0)
        assert orjson.loads(body)["issue"][0]["code"] == "transient"
        assert_unavailable(await client.get(path))


async def test_sqlite_file_gone_is_503(tmp_path: Any) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path}/missing/t.db", busy_timeout=0.1)
    try:
        with pytest.raises(ServiceUnavailable):
            db.sqlite_reader()
        with pytest.raises(ServiceUnavailable):
            async with db.unit_of_work(write=False):
                pass
        # aiosqlite stops the worker thread of a failed connect without waiting for it:
        # let it finish before the test's loop closes under it.
        await asyncio.sleep(0.2)
    finally:
        await db.close()


# --- PostgreSQL ---------------------------------------------------------------------------

@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A PostgreSQL server of this test's own, which it may stop and start."""
    with running_pg_server() as server:
        yield server


@pytest.fixture
async def pg_client(own_pg: PgServer) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(database_url=own_pg.url(), insecure_dev=True, base_url="http://test",
                        db_connect_timeout_seconds=2, run_dispatcher=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     headers={"Content-Type": FHIR}) as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


async def _eventually(client: httpx.AsyncClient, method: str, path: str,
                      **kwargs: Any) -> httpx.Response:
    """The answer once the database is back (one 503 per dropped pooled connection)."""
    for _ in range(20):
        resp = await client.request(method, path, **kwargs)
        if resp.status_code != 503:
            return resp
        await asyncio.sleep(0.1)
    return resp


@pytest.mark.pg
async def test_pg_stopped_under_a_running_app_is_503_then_recovers(
        pg_client: httpx.AsyncClient, own_pg: PgServer) -> None:
    await _record(pg_client)
    for path in LEAN_GETS:
        assert (await pg_client.get(path)).status_code == 200, path

    own_pg.halt()
    for path in [*LEAN_GETS, f"/Patient/{PID}/_history", f"/Patient/{PID}/$everything"]:
        assert_unavailable(await pg_client.get(path))
    lean_path, _, query = LEAN_GETS[1].partition("?")
    status, _body, reached = await _lean(pg_client, lean_path, query)
    assert (status, reached) == (503, 0)  # the lean door answers it: no second wait
    assert_unavailable(await pg_client.post("/Patient", json=patient()))
    ready = await pg_client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["retry-after"]

    own_pg.resume()
    for path in LEAN_GETS:
        assert (await _eventually(pg_client, "GET", path)).status_code == 200, path
    created = await _eventually(pg_client, "POST", "/Patient", json=patient(nhs=NUMBER))
    assert created.status_code == 201, created.text


@pytest.mark.engines("postgresql")
async def test_pg_connections_terminated_is_503_not_500(client: httpx.AsyncClient,
                                                        pg_server: PgServer,
                                                        migrated_url: str) -> None:
    await _record(client)
    for path in LEAN_GETS:  # every pool holds a connection now
        assert (await client.get(path)).status_code == 200
    name = make_url(migrated_url).database
    run_sync(lambda: pg_server.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
    statuses = []
    for path in [*LEAN_GETS, f"/Patient/{PID}/_history"]:
        resp = await client.get(path)
        statuses.append(resp.status_code)
        if resp.status_code != 200:
            assert_unavailable(resp)
    assert 500 not in statuses
    write = await _eventually(client, "POST", "/Patient", json=patient())
    assert write.status_code == 201
    for path in LEAN_GETS:
        assert (await _eventually(client, "GET", path)).status_code == 200


@pytest.mark.pg
async def test_pg_stopped_with_authentication_on_is_503_then_recovers(
        own_pg: PgServer, tmp_path: Any) -> None:
    settings = Settings(database_url=own_pg.url(), base_url="http://test",
                        db_connect_timeout_seconds=2, run_dispatcher=False,
                        demo_keys_dir=tmp_path / "keys")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            secure = SecureApp(http, app)
            gp = await secure.headers("gp")
            await _record_as(http, gp)
            for path in LEAN_GETS:
                assert (await http.get(path, headers=gp)).status_code == 200, path

            own_pg.halt()
            for path in [*LEAN_GETS, f"/Patient/{PID}/_history"]:
                assert_unavailable(await http.get(path, headers=gp))
            assert_unavailable(await http.post("/Patient", json=patient(), headers=gp))

            own_pg.resume()
            for path in LEAN_GETS:
                resp = await _eventually(http, "GET", path, headers=gp)
                assert resp.status_code == 200, (path, resp.text)


async def _record_as(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """The person of tests.api.test_wishes (the Patient only), written by a GP."""
    resp = await http.put(f"/Patient/{PID}", content=orjson.dumps({**make_patient(), "id": PID}),
                          headers=headers)
    assert resp.status_code == 201, resp.text
