"""SQLite answers a search's per-candidate probes from the index alone (migration 0010).

A search drives from its most selective clause and tests each candidate against the
others with ``EXISTS`` on that resource's index rows. Those tests must be answered by
the ``ix_idx_*_probe`` indexes (resource, parameter and compared columns) without
reading the index table's rows, and a page driven by index rows (which exist only for
live resources) must not need each candidate's ``resources`` row to test ``deleted``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from eolc_fhir.search import parse_search
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.search_sql import page_statement
from tests.storage.search_support import REGISTRY

pytestmark = pytest.mark.engines("sqlite")

SCT = "http://snomed.info/sct"
REGISTER = [("code", f"{SCT}|526631000000108,{SCT}|1403151000000103,{SCT}|414937009"),
            ("status", "active"),
            ("patient._has:CarePlan:subject:review-date", "lt2026-12-06")]


async def _plan(url: str, rtype: str, params: list[tuple[str, str]]) -> tuple[str, list[str]]:
    query = parse_search(REGISTRY, rtype, params).query
    stmt = page_statement("sqlite", query, count=25)
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            rows = (await conn.execute(text("EXPLAIN QUERY PLAN " + sql))).all()
    finally:
        await db.close()
    return sql, [str(row[-1]) for row in rows]


@pytest.mark.parametrize(("rtype", "params", "probed"), [
    ("Flag", REGISTER, "idx_token"),
    ("Flag", [("patient", "Patient/p-1"), ("status", "active")], "idx_token"),
    ("CarePlan", [("status", "active"), ("review-date", "lt2026-01-01")], "idx_date"),
    ("Flag", [("code", "450476008"), ("patient:missing", "false")], "idx_reference"),
])
async def test_probes_are_answered_from_the_probe_index(
        migrated_url: str, rtype: str, params: list[tuple[str, str]], probed: str) -> None:
    sql, plan = await _plan(migrated_url, rtype, params)
    probes = [line for line in plan if line.startswith("SEARCH") and probed in line
              and "res_id=?" in line]
    assert probes, plan
    for line in probes:
        assert f"USING COVERING INDEX ix_{probed}_probe" in line, plan
    assert "SELECT *" not in sql


async def test_a_page_driven_by_index_rows_does_not_test_deleted(migrated_url: str) -> None:
    sql, _ = await _plan(migrated_url, "Flag", REGISTER)
    assert "deleted" not in sql.split("ORDER BY")[0]


async def test_a_page_without_a_driver_still_tests_deleted(migrated_url: str) -> None:
    sql, _ = await _plan(migrated_url, "Flag", [("status:not", "active")])
    assert "deleted IS 0" in sql
