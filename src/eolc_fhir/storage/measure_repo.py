"""The door to measure evaluation: a unit of work's ``MeasureRepository``.

Services hand over a group's plan (``storage.measure_plan``) and a scope, and get
counts per (practice, age band), the subjects with their population flags, or the
observed values back; the SQL (``measure_sql``) stays here.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage.measure_plan import GroupPlan, Scope, Stratum
from eolc_fhir.storage.measure_sql import (
    MeasureSql,
    run_members,
    run_observations,
    run_summary,
)
from eolc_fhir.storage.query import Query
from eolc_fhir.storage.search_sql import match_ids

__all__ = ["MeasureRepository", "Member"]

# (patient id, 0/1 per population, 0/1 per test by its name p<population>_<alt>_<test>)
Member = tuple[str, tuple[int, ...], dict[str, int]]


class MeasureRepository:
    """Measure questions inside the caller's (read) transaction; never commits."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self._conn = conn
        self._dialect = dialect
        self._tuned = False

    async def _tune(self) -> None:
        # One evaluation runs a few large statements. On PostgreSQL: no JIT (compiling
        # costs more than it saves here), and room for the sets of people a statement
        # builds (tens of thousands of ids) to be hashed in memory: past work_mem the
        # planner probes them again for every person instead (seconds, not milliseconds).
        if self._dialect == "postgresql" and not self._tuned:
            await self._conn.execute(text("SET LOCAL jit = off"))
            await self._conn.execute(text("SET LOCAL work_mem = '64MB'"))
            self._tuned = True

    async def strata(self, plan: GroupPlan, scope: Scope) -> list[Stratum]:
        """Per (practice, age band) with anyone in the first population: how many subjects
        are in each population (each within the one before)."""
        await self._tune()
        return await run_summary(self._conn, MeasureSql(self._dialect, plan, scope))

    async def members(self, plan: GroupPlan, scope: Scope) -> list[Member]:
        """Every subject of the first population (an individual: the one, in or out)."""
        await self._tune()
        return await run_members(self._conn, MeasureSql(self._dialect, plan, scope))

    async def observations(self, plan: GroupPlan,
                           scope: Scope) -> Sequence[tuple[str | None, str | None, int]]:
        """(practice, age band, value) per subject of the last population."""
        await self._tune()
        return await run_observations(self._conn, MeasureSql(self._dialect, plan, scope))

    async def ids(self, query: Query, limit: int | None = None) -> list[str]:
        """Ids of live resources matching a plain search (a Measure by its url)."""
        return await match_ids(self._conn, self._dialect, query, limit)
