"""SQLite through aiosqlite, one thread hop per statement (storage/sqlite_driver.py).

Each hop to aiosqlite's thread costs tens of microseconds on these machines; SQLAlchemy's
own adapter made three or four per statement and more per transaction. These tests count
the hops and check that what SQLAlchemy reads back (rows, rowcount, lastrowid, errors)
is what it was before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from eolc_fhir.storage import sqlite_driver
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.model import IndexRows, StoredResource, TokenRow
from eolc_fhir.storage.repository import ConcurrentWriteError

pytestmark = pytest.mark.engines("sqlite")


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_url)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every hop to a connection's worker thread, by what it ran."""
    seen: list[str] = []
    original = sqlite_driver._Connection._execute

    async def counted(self: Any, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__qualname__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_driver._Connection, "_execute", counted)
    return seen


async def _warm(db: Database) -> None:
    """Open the pool's connection first: connecting has hops of its own."""
    async with db.unit_of_work(write=False) as uow:
        await uow.connection.execute(text("SELECT 1"))


async def test_a_statement_is_one_hop_and_a_transaction_two_more(db: Database,
                                                                 hops: list[str]) -> None:
    await _warm(db)
    hops.clear()
    async with db.unit_of_work() as uow:  # BEGIN IMMEDIATE
        rows = (await uow.connection.execute(
            text("SELECT res_type FROM resources LIMIT 3"))).all()
        await uow.connection.execute(text("UPDATE change_counter SET n = n + 1"))
    # BEGIN, two statements, COMMIT; the pool's rollback finds nothing to end: no hop.
    assert len(hops) == 4, hops
    assert rows == []
    hops.clear()
    async with db.unit_of_work(write=False) as uow:
        await uow.connection.execute(text("SELECT 1"))
    assert len(hops) == 3, hops  # BEGIN, the statement, COMMIT


async def test_rows_rowcount_and_lastrowid_come_back(db: Database) -> None:
    async with db.unit_of_work() as uow:
        conn = uow.connection
        inserted = await conn.execute(
            text("INSERT INTO idx_token (res_type, res_id, param, system, code) "
                 "VALUES ('Flag', 'f1', 'code', 's', 'c')"))
        assert inserted.rowcount == 1 and inserted.lastrowid
        many = await conn.execute(
            text("INSERT INTO idx_token (res_type, res_id, param, system, code) "
                 "VALUES ('Flag', :id, 'code', 's', :code)"),
            [{"id": f"f{n}", "code": f"c{n}"} for n in range(2, 7)])
        assert many.rowcount == 5
        found = (await conn.execute(text(
            "SELECT res_id, code FROM idx_token WHERE res_type = 'Flag' ORDER BY id"))).all()
        assert [tuple(r) for r in found] == [("f1", "c"), *((f"f{n}", f"c{n}")
                                                            for n in range(2, 7))]
        first = (await conn.execute(text("SELECT res_id FROM idx_token ORDER BY id"))).first()
        assert first is not None and first[0] == "f1"
        updated = await conn.execute(text("UPDATE idx_token SET code = 'x' WHERE res_id != 'f1'"))
        assert updated.rowcount == 5


async def test_errors_are_sqlalchemys_and_end_the_transaction(db: Database) -> None:
    with pytest.raises(OperationalError):
        async with db.unit_of_work() as uow:
            await uow.connection.execute(text("UPDATE change_counter SET n = n + 1"))
            await uow.connection.execute(text("SELECT * FROM no_such_table"))
    with pytest.raises(IntegrityError):
        async with db.unit_of_work() as uow:
            await uow.connection.execute(text("INSERT INTO change_counter VALUES (1, 0)"))
    async with db.unit_of_work(write=False) as uow:  # the connection is usable again
        assert (await uow.connection.execute(text("SELECT 1"))).scalar() == 1


def _new(rid: str) -> tuple[StoredResource, IndexRows]:
    stored = StoredResource("Flag", rid, 1, 1_700_000_000_000_000, False,
                            b'{"resourceType":"Flag","id":"' + rid.encode() + b'"}', "POST")
    return stored, IndexRows(tokens=[TokenRow("status", None, "active", None),
                                     TokenRow("code", "http://snomed.info/sct", "1", "one")])


async def test_new_resources_go_in_one_hop_and_a_clash_writes_nothing(
        db: Database, hops: list[str]) -> None:
    await _warm(db)
    hops.clear()
    async with db.unit_of_work() as uow:
        await uow.resources.insert_new_many([_new(f"f{n}") for n in range(16)])
    assert len(hops) == 3, hops  # BEGIN, every table's rows, COMMIT
    async with db.unit_of_work(write=False) as uow:
        stored = await uow.resources.get_version("Flag", "f7", 1)  # history keeps the method
        current = await uow.resources.get_current("Flag", "f7")
        tokens = (await uow.connection.execute(text(
            "SELECT param, system, code, text FROM idx_token WHERE res_id = 'f7' "
            "ORDER BY id"))).all()
        history = (await uow.connection.execute(text(
            "SELECT count(*) FROM resource_history WHERE res_type = 'Flag'"))).scalar()
    assert stored == _new("f7")[0]
    assert current is not None and current.content == stored.content and not current.deleted
    assert [tuple(t) for t in tokens] == [("status", None, "active", None),
                                          ("code", "http://snomed.info/sct", "1", "one")]
    assert history == 16
    with pytest.raises(ConcurrentWriteError):
        async with db.unit_of_work() as uow:
            await uow.resources.insert_new_many([_new("g1"), _new("f3")])  # f3 exists
    async with db.unit_of_work(write=False) as uow:
        assert await uow.resources.get_current("Flag", "g1") is None
