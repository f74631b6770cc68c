"""Loading the demo region through the service layer, on both engines."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import pytest

from eolc_fhir.config import Settings
from eolc_fhir.demo.loader import load_region
from eolc_fhir.demo.people import NhsNumbers, person_resources
from eolc_fhir.demo.region import build_region
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.startup import build_context, close_context

TODAY = date(2026, 11, 30)


@pytest.fixture
async def ctx(migrated_url: str) -> AsyncIterator[ServerContext]:
    context = await build_context(Settings(database_url=migrated_url, run_migrations=False))
    try:
        yield context
    finally:
        await close_context(context)


async def test_loads_validated_indexed_resources_once(ctx: ServerContext) -> None:
    first = await load_region(ctx, patients=30, seed=3, today=TODAY)
    assert not first.skipped and first.patients == 30
    region = build_region(3, 30)
    async with ctx.db.unit_of_work(write=False) as uow:
        centre = await uow.resources.get_current("Organization", region.coordination_centre["id"])
        patients = await uow.resources.history(resource_type="Patient", limit=100)
        some_patient = patients[0][1]
        number = _nhs_number(some_patient.content or b"")
        found = await uow.resources.ids_with_token(
            "Patient", "identifier", "https://fhir.nhs.uk/Id/nhs-number", number)
    assert centre is not None and centre.version == 1
    assert len(patients) == 30
    assert found == [some_patient.id]  # indexed as the API would index it
    again = await load_region(ctx, patients=30, seed=3, today=TODAY)
    assert again.skipped


async def test_same_seed_gives_the_same_ids_in_another_database(ctx: ServerContext) -> None:
    report = await load_region(ctx, patients=5, seed=4, today=TODAY, jobs=2)
    region, numbers = build_region(4, 5), NhsNumbers(4)
    expected = {(r["resourceType"], r["id"]) for r in region.resources()}
    for index in range(5):
        people = person_resources(region, index, TODAY, numbers.for_person(index))
        expected |= {(r["resourceType"], r["id"]) for r in people}
    assert len(expected) == report.resources
    async with ctx.db.unit_of_work(write=False) as uow:
        found = await uow.resources.get_many(sorted(expected))
    assert {(s.resource_type, s.id) for s in found} == expected


def _nhs_number(content: bytes) -> str:
    import orjson

    return str(orjson.loads(content)["identifier"][0]["value"])
