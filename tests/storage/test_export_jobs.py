"""Export job leases on both engines: one runner per job, a dead runner's job taken over."""

from __future__ import annotations

import asyncio

import pytest

from eolc_fhir.storage.database import Database
from eolc_fhir.storage.export_repo import ACCEPTED, COMPLETED, ExportJob
from eolc_fhir.storage.export_rows import ExportSelection

pytestmark = pytest.mark.usefixtures("engine_name")
LEASE = 1_000_000


def _job(job_id: str, created: int = 1) -> ExportJob:
    return ExportJob(job_id=job_id, client_id="cc", status=ACCEPTED, request="r", spec="{}",
                     created_us=created)


async def _claim(db: Database, owner: str, now: int) -> ExportJob | None:
    async with db.unit_of_work() as uow:
        return await uow.exports.claim(owner, now, LEASE)


async def test_a_lease_holds_until_it_runs_out(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.exports.add(_job("j1"))
        first = await _claim(db, "a", 100)
        assert first is not None and first.locked_by == "a" and first.attempts == 1
        assert await _claim(db, "b", 200) is None  # held by a
        async with db.unit_of_work() as uow:
            assert not await uow.exports.renew("j1", "b", 300 + LEASE)
            assert await uow.exports.renew("j1", "a", 300 + LEASE, progress="half")
        taken = await _claim(db, "b", 400 + LEASE)  # a stopped renewing: b takes over
        assert taken is not None and taken.attempts == 2 and taken.progress is None
        async with db.unit_of_work() as uow:
            assert not await uow.exports.complete("j1", "a", "{}", 10)  # a lost it
            assert await uow.exports.complete("j1", "b", '{"output": []}', 10)
            done = await uow.exports.get("j1")
            assert done is not None and done.status == COMPLETED and done.locked_by is None
            assert await uow.exports.expired(5) == [] and await uow.exports.expired(11) == ["j1"]
        assert await _claim(db, "c", 10**12) is None  # a completed job is never run again
    finally:
        await db.close()


async def test_a_released_job_is_claimed_again_at_once(migrated_url: str) -> None:
    """A runner that stops (server shutdown) gives its job back: no waiting for the lease."""
    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.exports.add(_job("j1"))
        assert await _claim(db, "a", 100) is not None
        async with db.unit_of_work() as uow:
            await uow.exports.release("j1", "b")  # not b's: nothing happens
        assert await _claim(db, "c", 200) is None
        async with db.unit_of_work() as uow:
            await uow.exports.release("j1", "a")
        again = await _claim(db, "c", 200)
        assert again is not None and again.locked_by == "c" and again.attempts == 2
    finally:
        await db.close()


async def test_concurrent_claims_give_each_job_to_one_runner(migrated_url: str) -> None:
    dbs = [Database(migrated_url) for _ in range(3)]
    try:
        async with dbs[0].unit_of_work() as uow:
            await uow.exports.add(_job("j1"))
        claims = await asyncio.gather(*(_claim(db, f"r{n}", 100) for n, db in enumerate(dbs)))
        assert [c.job_id for c in claims if c is not None] == ["j1"]
    finally:
        for db in dbs:
            await db.close()


async def test_rows_stream_in_key_order_in_batches(migrated_url: str) -> None:
    from tests.storage.test_unit_of_work import _version

    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            for n in range(7):
                await uow.resources.insert_new(_version(1, f"p{n}"))
        async with db.export_snapshot() as snap:
            batches = [b async for b in snap.batches(ExportSelection("Patient"), 3)]
            assert await snap.types() == ["Patient"]
        assert [len(b) for b in batches] == [3, 3, 1]
        assert [rid for b in batches for rid, _ in b] == [f"p{n}" for n in range(7)]
        assert batches[0][0][1] == b'{"resourceType":"Patient","id":"p0"}'
    finally:
        await db.close()
