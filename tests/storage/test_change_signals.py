"""Migration 0002's change signals: every committed resource write, whoever wrote it,
moves ``Database.change_token``; queued read audits (AuditEvents) do not; a reindex does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from eolc_fhir.storage.database import Database
from eolc_fhir.storage.model import IndexRows, StoredResource

pytestmark = pytest.mark.usefixtures("engine_name")


@pytest.fixture
async def db(migrated_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_url, read_pool_size=1)
    try:
        yield database
    finally:
        await database.close()


async def _listening(db: Database) -> tuple[int, int]:
    await db.read_current("Basic", "none")  # PostgreSQL: the first lookup starts listening
    for _ in range(500):
        token = db.change_token()
        if token is not None:
            return token
        await asyncio.sleep(0.01)
    raise AssertionError("no change token")


async def _settled(db: Database) -> tuple[int, int] | None:
    """The token once any notification in flight has arrived."""
    await asyncio.sleep(0.3)
    return db.change_token()


def _stored(rtype: str, rid: str) -> StoredResource:
    body = f'{{"resourceType":"{rtype}","id":"{rid}"}}'.encode()
    return StoredResource(rtype, rid, 1, 1, False, body, method="POST")


async def test_audits_do_not_count_resources_and_reindex_do(db: Database) -> None:
    start = await _listening(db)
    async with db.unit_of_work() as uow:  # the read-audit flusher's way of writing
        await uow.resources.insert_new_many(
            [(_stored("AuditEvent", f"a{n}"), IndexRows()) for n in range(3)])
    assert await _settled(db) == start

    async with db.unit_of_work() as uow:
        await uow.connection.exec_driver_sql(  # a write this process's counters cannot see
            "UPDATE resources SET version = 2 WHERE res_type = 'AuditEvent' AND res_id = 'a0'")
    assert await _settled(db) == start

    empty_object = "X'7B7D'" if db.dialect == "sqlite" else "'\\x7b7d'::bytea"
    async with db.unit_of_work() as uow:
        await uow.connection.exec_driver_sql(  # ...and one of a watched type
            "INSERT INTO resources (res_type, res_id, version, last_updated_us, deleted,"
            f" content) VALUES ('Basic', 'b', 1, 1, false, {empty_object})")
    written = await _settled(db)
    assert written is not None and written != start

    await db.reindex(lambda resource: IndexRows(), ["Basic"])
    reindexed = await _settled(db)
    assert reindexed is not None and reindexed != written

    async with db.unit_of_work() as uow:
        await uow.connection.exec_driver_sql(
            "DELETE FROM resources WHERE res_type = 'Basic' AND res_id = 'b'")
    deleted = await _settled(db)
    assert deleted is not None and deleted != reindexed
