"""The common searches use indexes on PostgreSQL: no sequential scan of an index table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
import pytest
from sqlalchemy import text

from bench.search_population import NHS, bulk_load, nhs_for, population
from eolc_fhir.search import parse_search
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.search_sql import page_statement
from tests.storage.search_support import REGISTRY

pytestmark = pytest.mark.engines("postgresql")
PATIENTS = 4000

QUERIES = [
    ("Patient", [("identifier", f"{NHS}|{nhs_for(1234)}")]),
    ("Flag", [("patient", "Patient/pat-1234"), ("status", "active")]),
    ("Flag", [("subject:Patient.identifier", f"{NHS}|{nhs_for(77)}")]),
    ("Patient", [("_has:Flag:patient:code", "450476008"), ("identifier", nhs_for(12))]),
    ("Patient", [("family", "okaf"), ("birthdate", "1950-03-03")]),
]


@pytest.fixture
async def big_db(migrated_url: str) -> AsyncIterator[Database]:
    db = Database(migrated_url)
    await bulk_load(db, population(PATIENTS), REGISTRY)
    async with db.engine.connect() as conn:
        auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await auto.execute(text("VACUUM ANALYZE"))  # visibility map: index-only scans
    yield db
    await db.close()


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


async def _plan(db: Database, rtype: str, params: list[tuple[str, str]], *,
                analyze: bool = False) -> dict[str, Any]:
    query = parse_search(REGISTRY, rtype, params).query
    stmt = page_statement("postgresql", query, count=50)
    explain = "EXPLAIN (ANALYZE, FORMAT JSON) " if analyze else "EXPLAIN (FORMAT JSON) "
    async with db.engine.connect() as conn:
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        raw = (await conn.execute(text(explain + sql))).scalar_one()
    doc = raw if isinstance(raw, list) else orjson.loads(raw)
    return dict(doc[0]["Plan"])


async def test_common_searches_use_indexes(big_db: Database) -> None:
    for rtype, params in QUERIES:
        plan = await _plan(big_db, rtype, params)
        scans = [(n["Node Type"], n.get("Relation Name")) for n in _nodes(plan)
                 if n["Node Type"] == "Seq Scan"]
        assert not scans, (rtype, params, scans, plan)


async def test_candidates_that_fail_a_probe_never_read_their_resource_row(
        big_db: Database) -> None:
    """Every CPR flag of the population is active, so ``status=inactive`` rejects each of
    the 2,000 candidates the code finds: PostgreSQL must test them on the index tables and
    read no ``resources`` row (the row holds the content: the costly read)."""
    plan = await _plan(big_db, "Flag", [("code", "450476008"), ("status", "inactive")],
                       analyze=True)
    assert plan["Actual Rows"] == 0
    reads = [n for n in _nodes(plan) if n.get("Relation Name") == "resources"]
    assert reads, plan
    assert all(n["Actual Loops"] * max(n["Actual Rows"], 1) <= 1 for n in reads), plan
