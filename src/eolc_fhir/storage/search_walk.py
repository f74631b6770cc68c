"""Whether a page is found faster by walking the resources in id order than from its driver.

The planner's driver (the clause that looks most selective) becomes ``res_id IN
(index lookup)``: the database gathers every resource it matches before the first
row of a page. For a broad test (``status=active``, the register's codes: most of
a type's rows) that set is the whole type, 100,000 ids for a 100,000-person
register, while walking the type in id order and probing each candidate fills a
page after a few dozen. One bounded look at the driver's index (at most
``BROAD_ROWS`` rows) tells the two apart; only searches in id order walk.
"""

from __future__ import annotations

from sqlalchemy import func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage import tables as t
from eolc_fhir.storage.query import TABLE_OF_KIND, Criterion, Query
from eolc_fhir.storage.search_conditions import driver_index, test_condition

__all__ = ["BROAD_ROWS", "walks"]

BROAD_ROWS = 2000
_TABLES = {table.name: table for table in t.INDEX_TABLES}
_BROAD_KINDS = ("token", "date", "number", "quantity", "uri")


async def walks(conn: AsyncConnection, dialect: str, query: Query) -> bool:
    """True when the query is in id order and its driver matches ``BROAD_ROWS`` or more."""
    if query.sort:
        return False
    n = driver_index(query.clauses)
    if n is None:
        return False
    rtype, clause = query.resource_type, query.clauses[n]
    if not isinstance(clause, Criterion) or clause.negate or clause.kind not in _BROAD_KINDS:
        return False
    if clause.kind == "token" and clause.param in ("identifier", "_id"):
        return False  # lookups: a handful of rows
    i = _TABLES[TABLE_OF_KIND[clause.kind]].alias()
    rows = (select(literal(1)).select_from(i)
            .where(i.c.res_type == rtype, i.c.param == clause.param,
                   or_(*(test_condition(x, i, dialect) for x in clause.tests)))
            .limit(BROAD_ROWS).subquery())
    found = (await conn.execute(select(func.count()).select_from(rows))).scalar_one()
    return int(found) >= BROAD_ROWS

