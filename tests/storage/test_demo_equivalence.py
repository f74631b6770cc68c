"""The demo loader's batched writes store exactly what the per-resource write path stores.

The same small region is written twice on each engine: once by ``load_region``
(people validated and indexed in worker processes, then ``store_new_versions``:
many resources per statement, batch write hooks) and once
resource by resource through ``store_version``, each in its own unit of work, as a
REST create would. With one deterministic clock, every table must come out the
same row for row, including the subscription events two live subscriptions collect.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from eolc_fhir.config import Settings
from eolc_fhir.demo import loader
from eolc_fhir.demo.people import NhsNumbers, person_resources
from eolc_fhir.demo.region import build_region
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources import writes
from eolc_fhir.services.startup import build_context, close_context
from eolc_fhir.services.subscriptions import lifecycle as subscriptions
from eolc_fhir.storage import schema
from tests.unit.subscriptions.support import subscription

TODAY = date(2026, 11, 30)
SEED, PATIENTS = 5, 24
# The server's own signing key is random per database; it is not written by any write.
_NOT_COMPARED = {"security_keys"}


def _subscriptions() -> list[dict[str, Any]]:
    practice = build_region(SEED, PATIENTS).practices[0]["id"]
    every_flag = subscription("https://receiver.example/a", "register-entry")
    one_practice = subscription("https://receiver.example/b", "patient-wishes",
                                filters=(f"Patient?general-practitioner=Organization/{practice}",))
    return [{**every_flag, "id": "sub-flags"}, {**one_practice, "id": "sub-practice"}]


def _region_in_load_order() -> list[dict[str, Any]]:
    region, numbers = build_region(SEED, PATIENTS), NhsNumbers(SEED)
    out = list(region.resources())
    for index in range(PATIENTS):
        out += person_resources(region, index, TODAY, numbers.for_person(index))
    return out


async def _per_resource(ctx: ServerContext) -> None:
    for resource in _region_in_load_order():
        loader.validate(resource, ctx.validator)
        async with ctx.db.unit_of_work() as uow:
            await writes.store_version(ctx, uow, resource, None, method="PUT")


async def _batched(ctx: ServerContext) -> None:
    report = await loader.load_region(ctx, patients=PATIENTS, seed=SEED, today=TODAY, jobs=2)
    assert report.resources == len(_region_in_load_order())


async def _tables(ctx: ServerContext) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with ctx.db.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name in _NOT_COMPARED:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            rows = await conn.execute(select(table).order_by(*order))
            out[table.name] = [tuple(row) for row in rows]
    return out


async def _write(url: str, how: Callable[[ServerContext], Any],
                 monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[Any, ...]]]:
    clock = itertools.count(1_790_000_000_000_000)
    monkeypatch.setattr(writes, "now_us", lambda: next(clock))
    monkeypatch.setattr(subscriptions, "now_us", lambda: next(clock))
    settings = Settings(database_url=url, run_migrations=False, run_dispatcher=False)
    ctx = await build_context(settings)
    try:
        for sub in _subscriptions():
            async with ctx.db.unit_of_work() as uow:
                await writes.store_version(ctx, uow, sub, None, method="PUT")
        await how(ctx)
        return await _tables(ctx)
    finally:
        await close_context(ctx)


async def test_batched_load_stores_the_same_rows_as_one_by_one(
        migrated_url: str, second_migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "_BATCH", 7)  # several units of work, one not full
    monkeypatch.setattr(loader, "POOL_FROM", 1)  # people prepared in 2 worker processes
    batched = await _write(migrated_url, _batched, monkeypatch)
    one_by_one = await _write(second_migrated_url, _per_resource, monkeypatch)

    written = {(r["resourceType"], r["id"]) for r in _region_in_load_order() + _subscriptions()}
    assert written <= {row[:2] for row in batched["resources"]}
    assert written <= {row[:2] for row in batched["security_origin"]}
    assert batched["security_consent"] and batched["idx_token"] and batched["idx_reference"]
    events = batched["subscription_events"]
    assert {e[0] for e in events} == {"sub-flags", "sub-practice"}  # both got notifications
    assert batched.keys() == one_by_one.keys()
    for name in batched:
        assert batched[name] == one_by_one[name], name
