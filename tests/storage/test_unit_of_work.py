"""The unit of work and the repository on both engines."""

from __future__ import annotations

import asyncio

import pytest

from eolc_fhir.storage.database import Database
from eolc_fhir.storage.model import IndexRows, StoredResource, TokenRow
from eolc_fhir.storage.repository import ConcurrentWriteError

pytestmark = pytest.mark.usefixtures("engine_name")


def _version(n: int, rid: str = "p1") -> StoredResource:
    return StoredResource("Patient", rid, n, 1_700_000_000_000_000 + n, False,
                          b'{"resourceType":"Patient","id":"%s"}' % rid.encode(),
                          "POST" if n == 1 else "PUT")


async def test_rollback_leaves_nothing(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        with pytest.raises(RuntimeError):
            async with db.unit_of_work() as uow:
                await uow.resources.insert_new(_version(1))
                rows = IndexRows(tokens=[TokenRow("identifier", "s", "c")])
                await uow.resources.replace_index("Patient", "p1", rows, existed=False)
                raise RuntimeError("boom")
        async with db.unit_of_work(write=False) as uow:
            assert await uow.resources.get_current("Patient", "p1") is None
            assert await uow.resources.history_count() == 0
            assert await uow.resources.ids_with_token("Patient", "identifier", "s", "c") == []
    finally:
        await db.close()


async def test_compare_and_swap_lets_one_writer_win(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.resources.insert_new(_version(1))

        async def bump() -> bool:
            try:
                async with db.unit_of_work() as uow:
                    await uow.resources.replace_current(_version(2), previous_version=1)
                return True
            except ConcurrentWriteError:
                return False

        outcomes = await asyncio.gather(*(bump() for _ in range(6)))
        assert outcomes.count(True) == 1
        async with db.unit_of_work(write=False) as uow:
            current = await uow.resources.get_current("Patient", "p1")
            assert current is not None and current.version == 2
            assert await uow.resources.history_count(resource_id="p1") == 2
    finally:
        await db.close()


async def test_insert_of_existing_id_is_a_concurrent_write(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            await uow.resources.insert_new(_version(1))
        with pytest.raises(ConcurrentWriteError):
            async with db.unit_of_work() as uow:
                await uow.resources.insert_new(_version(1))
    finally:
        await db.close()
