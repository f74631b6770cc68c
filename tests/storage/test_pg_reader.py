"""The PostgreSQL read pool: named parameters numbered for asyncpg, fresh reads, loop changes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from eolc_fhir.storage.database import Database
from eolc_fhir.storage.model import StoredResource
from eolc_fhir.storage.pg_reader import dollar_params
from tests._pg import run_sync


def test_dollar_params_numbers_each_name_once_in_order() -> None:
    sql, args = dollar_params(
        "SELECT 1 WHERE a = :code AND b IN (:pid0, :pid1) AND c = :code AND d = 'x::text'"
        " AND e || '' = :system",
        {"code": "C", "pid0": "p0", "pid1": "p1", "system": "S", "unused": 9})
    assert sql == ("SELECT 1 WHERE a = $1 AND b IN ($2, $3) AND c = $1 AND d = 'x::text'"
                   " AND e || '' = $4")
    assert args == ["C", "p0", "p1", "S"]


def test_dollar_params_leaves_casts_alone() -> None:
    sql, args = dollar_params("SELECT :v::text, x::int FROM t", {"v": 1})
    assert (sql, args) == ("SELECT $1::text, x::int FROM t", [1])


def test_sqlite_has_no_read_pool(tmp_path: object) -> None:
    assert Database(f"sqlite+aiosqlite:///{tmp_path}/x.db").pg is None


@pytest.mark.engines("postgresql")
def test_read_pool_sees_each_committed_write_at_once(migrated_url: str) -> None:
    # The pool itself, without the cache of current versions in front of it: these writes
    # are raw SQL, which the cache learns of only by their notification (the repository's
    # writes also advance the fence: test_current_versions_are_kept_until_any_process_writes).
    db = Database(migrated_url, read_pool_size=2, read_cache_bytes=0)
    assert db.pg is not None

    async def write(version: int) -> None:
        async with db.unit_of_work() as uow:
            await uow.connection.exec_driver_sql(
                "DELETE FROM resources WHERE res_type = 'Basic' AND res_id = 'x'")
            await uow.connection.exec_driver_sql(
                "INSERT INTO resources (res_type, res_id, version, last_updated_us, deleted,"
                " content) VALUES ('Basic', 'x', $1, 1, false, $2)",
                (version, b'{"resourceType":"Basic","id":"x"}'))

    async def scenario() -> list[tuple[object, ...] | None]:
        try:
            seen = [await db.read_current("Basic", "x")]
            for version in (1, 2):
                await write(version)
                seen.append(await db.read_current("Basic", "x"))
            return seen
        finally:
            await db.close()

    before, first, second = run_sync(scenario)
    assert before is None
    assert first is not None and first.version == 1
    assert second is not None and second.version == 2
    assert second.content == b'{"resourceType":"Basic","id":"x"}'


@pytest.mark.engines("postgresql")
def test_change_notifications_from_any_writer_move_the_token(migrated_url: str) -> None:
    import asyncio

    import asyncpg

    db = Database(migrated_url, read_pool_size=1)
    dsn = migrated_url.replace("postgresql+asyncpg", "postgresql")

    async def moved(since: object) -> object:
        for _ in range(500):
            token = db.change_token()
            if token is not None and token != since:
                return token
            await asyncio.sleep(0.01)
        raise AssertionError("no change heard")

    async def scenario() -> None:
        try:
            assert db.change_token() is None  # nothing listens before the first lookup
            await db.read_current("Basic", "x")
            listening = await moved(None)
            await db.read_current("Basic", "x")
            assert db.change_token() == listening  # reads notify nobody
            other = await asyncpg.connect(dsn)  # another writer: not this process's engine
            try:
                await other.execute(
                    "INSERT INTO resources (res_type, res_id, version, last_updated_us,"
                    " deleted, content) VALUES ('Basic', 'x', 1, 1, false, '\\x7b7d')")
                heard = await moved(listening)
                async with db.unit_of_work() as uow:  # no resource written: not counted
                    await uow.connection.exec_driver_sql("SELECT 1")
                assert db.change_token() == heard
                async with db.unit_of_work() as uow:  # this process: counted at commit
                    await uow.resources.replace_index("Basic", "x", None)
                assert db.change_token() != heard
                pg = db.pg
                assert pg is not None and pg._listener is not None
                await other.execute("SELECT pg_terminate_backend($1)",
                                    pg._listener.get_server_pid())
                for _ in range(500):  # the listener is gone: no token, then a new one
                    if db.change_token() is None:
                        break
                    await asyncio.sleep(0.01)
                assert db.change_token() is None
                await db.read_current("Basic", "x")
                await moved(None)
            finally:
                await other.close()
        finally:
            await db.close()

    run_sync(scenario)


@pytest.mark.engines("postgresql")
def test_current_versions_are_kept_until_any_process_writes(migrated_url: str) -> None:
    """A read by id is answered from the cache while nothing was committed anywhere, and a
    write another process has answered is seen by the very next read (the fence)."""
    reader = Database(migrated_url, read_pool_size=2)
    other = Database(migrated_url, read_pool_size=2)  # another process's server
    assert reader.pg is not None
    body = b'{"resourceType":"Basic","id":"k"}'

    async def write(db: Database, version: int) -> None:
        stored = StoredResource("Basic", "k", version, version, False, body)
        async with db.unit_of_work() as uow:
            if version == 1:
                await uow.resources.insert_new(stored)
            else:
                await uow.resources.replace_current(stored, version - 1)

    async def scenario() -> tuple[list[int | None], bool]:
        assert reader.pg is not None
        fetched: list[object] = []
        real = reader.pg.fetchrow

        async def counting(sql: str, args: Any = ()) -> Any:
            if "FROM resources" in sql:
                fetched.append(args)
            return await real(sql, args)

        reader.pg.fetchrow = counting  # type: ignore[method-assign]

        async def version() -> int | None:
            stored = await reader.read_current("Basic", "k")
            return None if stored is None else stored.version

        try:
            await write(reader, 1)
            seen = [await version()]
            served_from_cache = False
            for _ in range(100):  # until the listener is up and this write's signal heard
                before = len(fetched)
                await version()
                if len(fetched) == before:
                    served_from_cache = True
                    break
                await asyncio.sleep(0.05)
            heard = reader.pg.changes()  # from here on, no notification arrives in time
            reader.pg.changes = lambda: heard  # type: ignore[method-assign]
            await write(other, 2)
            seen.append(await version())  # at once: the sequence the writer advanced
            await write(reader, 3)
            seen.append(await version())
            return seen, served_from_cache
        finally:
            await reader.close()
            await other.close()

    seen, served_from_cache = run_sync(scenario)
    assert seen == [1, 2, 3]
    assert served_from_cache
