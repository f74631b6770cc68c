"""The suite's database fixtures: a real PostgreSQL server and fresh databases per engine."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from tests._pg import PgServer, run_sync, start_pg_server


async def test_pg_server_answers(pg_server: PgServer) -> None:
    conn = await asyncpg.connect(pg_server.dsn())
    try:
        assert await conn.fetchval("SELECT 1") == 1
        version = await conn.fetchval("SHOW server_version_num")
        assert 150000 <= int(version) < 160000
        assert await conn.fetchval("SHOW fsync") == "off"
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
    finally:
        await conn.close()
    assert pg_server.host == "127.0.0.1"


async def _table_names(url: str) -> list[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
            return await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()


async def test_engine_url_is_a_fresh_empty_database(engine_url: str, engine_name: str) -> None:
    url = make_url(engine_url)
    assert url.get_backend_name() == engine_name
    if engine_name == "postgresql":
        assert url.drivername == "postgresql+asyncpg"
        conn = await asyncpg.connect(engine_url.replace("+asyncpg", ""))
        try:
            assert await conn.fetchval("SELECT 1") == 1
            assert await conn.fetchval("SELECT current_database()") == url.database
        finally:
            await conn.close()
    else:
        assert url.drivername == "sqlite+aiosqlite"
        assert url.database is not None and not Path(url.database).exists()
    assert await _table_names(engine_url) == []


async def test_writes_do_not_leak_between_tests_part1(engine_url: str) -> None:
    await _write_marker(engine_url)


async def test_writes_do_not_leak_between_tests_part2(engine_url: str) -> None:
    # Runs after part1 in file order; a shared database would already hold the table.
    assert "leak_marker" not in await _table_names(engine_url)
    await _write_marker(engine_url)


async def _write_marker(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE leak_marker (x INTEGER)"))
    finally:
        await engine.dispose()


async def test_migrated_url_has_the_schema(migrated_url: str) -> None:
    names = await _table_names(migrated_url)
    assert {"resources", "resource_history", "idx_token"} <= set(names)


@pytest.mark.engines("sqlite")
def test_engines_marker_restricts_engines(request: pytest.FixtureRequest, engine_url: str) -> None:
    assert request.node.callspec.id == "sqlite"
    assert request.node.get_closest_marker("pg") is None
    assert engine_url.startswith("sqlite+aiosqlite:///")


@pytest.mark.engines("postgresql")
def test_pg_items_carry_the_pg_marker(request: pytest.FixtureRequest, engine_url: str) -> None:
    assert request.node.callspec.id == "pg"
    assert request.node.get_closest_marker("pg") is not None


def test_dropped_databases_disappear(pg_server: PgServer) -> None:
    name = pg_server.create_database()
    assert name in _database_names(pg_server)
    pg_server.drop_database(name)
    assert name not in _database_names(pg_server)


def _database_names(server: PgServer) -> set[str]:
    async def fetch() -> set[str]:
        conn = await asyncpg.connect(server.dsn())
        try:
            return {row[0] for row in await conn.fetch("SELECT datname FROM pg_database")}
        finally:
            await conn.close()

    return run_sync(fetch)


def test_stop_removes_the_server_and_its_folder() -> None:
    server = start_pg_server()
    root = server.root
    assert (server.datadir / "postmaster.pid").exists()
    server.stop()
    server.stop()  # idempotent: the atexit hook calls it again
    assert not root.exists()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2).close()
