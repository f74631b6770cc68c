"""Batched dispatcher bookkeeping on both engines: next_events and ack_many."""

from __future__ import annotations

import pytest

from eolc_fhir.storage.database import Database
from eolc_fhir.storage.subscription_repo import Ack, SubscriptionRepository, padded

pytestmark = pytest.mark.usefixtures("engine_name")


async def _setup(db: Database, subs: list[str], events: int) -> None:
    async with db.unit_of_work() as uow:
        repo = SubscriptionRepository(uow.connection, uow.dialect)
        for sub_id in subs:
            await repo.upsert_state(sub_id, topic="t", status="active", spec="{}",
                                    heartbeat_us=0, now_us=1, owner=None)
        for n in range(events):
            await repo.append_events(subs, interaction="create", focus_type="Flag",
                                     focus_id=f"f{n}", focus_version=1, created_us=100 + n)


async def test_next_events_reads_each_subscriptions_own_range(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        await _setup(db, ["a", "b", "c"], 6)
        async with db.unit_of_work(write=False) as uow:
            repo = SubscriptionRepository(uow.connection, uow.dialect)
            found = await repo.next_events([("a", 0, 2), ("b", 4, 5), ("c", 6, 3)])
            for sub_id, after, limit in [("a", 0, 2), ("b", 4, 5), ("c", 6, 3)]:
                expected = await repo.events_after(sub_id, after, limit)
                assert found[sub_id] == expected
        assert [e.event_number for e in found["a"]] == [1, 2]
        assert [e.event_number for e in found["b"]] == [5, 6]
        assert found["c"] == []
        assert [e.focus_id for e in found["b"]] == ["f4", "f5"]
    finally:
        await db.close()


async def test_ack_many_acknowledges_held_leases_only(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        await _setup(db, ["a", "b", "c"], 5)
        async with db.unit_of_work() as uow:
            repo = SubscriptionRepository(uow.connection, uow.dialect)
            claimed = await repo.claim_due("me", 1_000, 9_000, 10)
            assert sorted(r.sub_id for r in claimed) == ["a", "b", "c"]
            # "b"'s lease went to another dispatcher meanwhile.
            assert await repo.update_leased("b", "me", lease_owner="other") == 5
        async with db.unit_of_work() as uow:
            repo = SubscriptionRepository(uow.connection, uow.dialect)
            totals = await repo.ack_many("me", [Ack("c", 5, 2_000, 0), Ack("a", 3, 2_000, 50_000),
                                                Ack("b", 5, 2_000, 0)])
        assert totals == {"a": 5, "c": 5}
        async with db.unit_of_work(write=False) as uow:
            rows = {r.sub_id: r for r in
                    await SubscriptionRepository(uow.connection, uow.dialect).list()}
        assert (rows["a"].delivered_number, rows["a"].lease_owner) == (3, "me")
        assert (rows["c"].delivered_number, rows["c"].lease_owner) == (5, None)
        assert (rows["b"].delivered_number, rows["b"].lease_owner) == (0, "other")
        assert rows["a"].last_sent_us == rows["c"].last_sent_us == 2_000
        assert rows["b"].last_sent_us == 0
    finally:
        await db.close()


async def test_next_events_has_a_few_statement_shapes_not_one_per_count(
        migrated_url: str) -> None:
    """Each number of ranges used to compile (and prepare) a statement of its own, kept in
    the engine's cache: under a soak with 100 subscribers the process grew by tens of MB."""
    db = Database(migrated_url)
    try:
        subs = [f"s{n}" for n in range(40)]
        await _setup(db, subs, 3)
        cache = db.engine.sync_engine._compiled_cache
        assert cache is not None
        async with db.unit_of_work(write=False) as uow:
            repo = SubscriptionRepository(uow.connection, uow.dialect)
            await repo.next_events([("s0", 0, 1)])
            await repo.focus_contents([("Flag", "f0", 1)])
            before = len(cache)
            for count in range(1, 41):
                ranges = [(sub_id, 1, 5) for sub_id in subs[:count]]
                found = await repo.next_events(ranges)
                assert sorted(found) == sorted(subs[:count])
                assert all([e.event_number for e in found[s]] == [2, 3] for s in subs[:count])
                await repo.focus_contents([("Flag", f"f{n}", 1) for n in range(count)])
        # 1-4, 8, 16, 32 and 64 ranges (keys): eight shapes each, not forty.
        assert len(cache) - before <= 2 * 8 - 2
    finally:
        await db.close()


def test_padded_sizes() -> None:
    assert [len(padded(list(range(n)), -1)) for n in (0, 1, 2, 3, 4, 5, 8, 9, 100)] == \
        [0, 1, 2, 3, 4, 8, 8, 16, 128]
    assert padded([1, 2, 3, 4, 5], 0) == [1, 2, 3, 4, 5, 0, 0, 0]
