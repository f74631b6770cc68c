"""The write path itself refuses what the validator refuses, whoever calls it: a service
calling ``store_version``, the loader's ``store_new_versions``, the server's own
Subscription status writes. Nothing is stored (every table is as it was), on both engines.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import orjson
import pytest

from eolc_fhir.config import Settings
from eolc_fhir.demo import loader
from eolc_fhir.fhir.errors import InvalidRequest, ProfileViolation
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources import writes
from eolc_fhir.services.resources.admission import admit
from eolc_fhir.services.startup import build_context, close_context
from eolc_fhir.services.subscriptions.status import write_resource_status
from tests.builders import make_care_plan, make_patient_full
from tests.db_snapshot import snapshot
from tests.unit.subscriptions.support import subscription

TODAY = date(2026, 11, 30)


@pytest.fixture
async def ctx(migrated_url: str) -> AsyncIterator[ServerContext]:
    context = await build_context(Settings(database_url=migrated_url, run_migrations=False,
                                           run_dispatcher=False))
    try:
        yield context
    finally:
        await close_context(context)


def _acp_without_author() -> dict[str, Any]:
    return {**make_care_plan(author=None), "id": "acp-1"}


async def test_store_version_refuses_a_profile_error(ctx: ServerContext) -> None:
    before = await snapshot(ctx.db)
    with pytest.raises(ProfileViolation) as refused:
        async with ctx.db.unit_of_work(write=True) as uow:
            await writes.store_version(ctx, uow, _acp_without_author(), None, method="PUT")
    assert any("CarePlan.author" in i.expression for i in refused.value.issues)
    assert await snapshot(ctx.db) == before


@pytest.mark.parametrize("base_check", ["full", "structure"])
async def test_store_version_refuses_a_base_error(ctx: ServerContext, base_check: Any) -> None:
    before = await snapshot(ctx.db)
    patient = {"resourceType": "Patient", "id": "p1", "birthDate": "2023-02-30"}
    with pytest.raises(InvalidRequest):
        async with ctx.db.unit_of_work(write=True) as uow:
            await writes.store_version(ctx, uow, patient, None, method="PUT",
                                       base_check=base_check)
    assert await snapshot(ctx.db) == before


async def test_store_version_refuses_an_update_and_keeps_the_version(ctx: ServerContext) -> None:
    async with ctx.db.unit_of_work(write=True) as uow:
        written = await writes.store_version(ctx, uow, {**make_care_plan(), "id": "acp-1"},
                                             None, method="PUT")
    before = await snapshot(ctx.db)
    with pytest.raises(ProfileViolation):
        async with ctx.db.unit_of_work(write=True) as uow:
            await writes.store_version(ctx, uow, _acp_without_author(), written.stored,
                                       method="PUT")
    assert await snapshot(ctx.db) == before


async def test_store_new_versions_refuses_the_whole_batch(ctx: ServerContext) -> None:
    before = await snapshot(ctx.db)
    batch = [{**make_patient_full(), "id": "p1"}, _acp_without_author()]
    with pytest.raises(ProfileViolation):
        async with ctx.db.unit_of_work(write=True) as uow:
            await writes.store_new_versions(ctx, uow, batch, method="PUT")
    assert await snapshot(ctx.db) == before  # not even the valid Patient


async def test_store_new_versions_takes_admitted_resources_with_their_warnings(
        ctx: ServerContext) -> None:
    plan = {**make_care_plan(), "id": "acp-2"}
    plan["extension"][0]["valueDate"] = "2099-01-01"  # a review date far away: a warning
    admitted = admit(ctx.validator, plan)
    async with ctx.db.unit_of_work(write=True) as uow:
        [written] = await writes.store_new_versions(ctx, uow, [admitted], method="PUT")
    assert written.stored.id == "acp-2"
    assert any(i.severity == "warning" for i in written.warnings)


async def test_the_loader_refuses_an_invalid_person(ctx: ServerContext,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real = loader.person_resources

    def without_authors(*args: Any) -> Iterator[dict[str, Any]]:
        for resource in real(*args):
            if resource["resourceType"] == "CarePlan":
                resource.pop("author", None)
            yield resource

    monkeypatch.setattr(loader, "person_resources", without_authors)
    with pytest.raises(ProfileViolation):
        await loader.load_region(ctx, patients=5, seed=7, today=TODAY, jobs=1)
    rows = await snapshot(ctx.db)
    assert not [r for r in rows["resources"] if r[0] in ("Patient", "CarePlan")]


async def test_a_subscription_status_write_is_validated(ctx: ServerContext) -> None:
    sub = {**subscription("https://receiver.example/a", "register-entry"), "id": "sub-1"}
    async with ctx.db.unit_of_work(write=True) as uow:
        await writes.store_version(ctx, uow, sub, None, method="PUT")
    async with ctx.db.unit_of_work(write=True) as uow:  # a receiver's text, made valid
        await write_resource_status(ctx, uow, "sub-1", "error", "BadStatusLine: \x00")
    async with ctx.db.unit_of_work(write=False) as uow:
        current = await uow.resources.get_current("Subscription", "sub-1")
    assert current is not None and current.content is not None
    stored = orjson.loads(current.content)
    assert (stored["status"], stored["error"]) == ("error", "BadStatusLine: \ufffd")
    before = await snapshot(ctx.db)
    with pytest.raises(InvalidRequest):  # FHIR JSON has no empty strings
        async with ctx.db.unit_of_work(write=True) as uow:
            await write_resource_status(ctx, uow, "sub-1", "", None)
    assert await snapshot(ctx.db) == before
