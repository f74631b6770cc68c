"""The door to search: a unit of work's ``SearchRepository`` and the Database's ``LeanSearch``.

Services hand over a plan (``storage.query.Query``) and get plain rows back;
which SQL runs, and on which connection, is decided here. ``LeanSearch``
serves first pages of selective equality lookups outside any transaction
(SQLite: the read-only ``sqlite3`` connection on the event loop; PostgreSQL:
the asyncpg read pool); ``SearchRepository`` runs everything inside the
caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage.model import PageRow
from eolc_fhir.storage.query import Query
from eolc_fhir.storage.read_sources import ReadSources
from eolc_fhir.storage.search_fast import (
    PgSearchReader,
    PreparedSearches,
    SqliteReader,
    driver_page,
)
from eolc_fhir.storage.search_snapshots import save_snapshot, snapshot_slice, sorted_ids
from eolc_fhir.storage.search_sql import (
    LOOKUP_RANK,
    Rows,
    count_matches,
    fetch_current,
    include_keys,
    lookup_rank,
    match_ids,
    prefer_custom_plans,
    revinclude_keys,
    rows_of,
    search_page,
    wants_custom_plan,
)
from eolc_fhir.storage.search_upkeep import announce_change, current_batch
from eolc_fhir.storage.search_walk import walks

__all__ = ["IncludeLookups", "SearchRepository", "LeanSearch"]

Page = tuple[list[PageRow], bool]  # the rows, and whether more lie beyond them
Key = tuple[str, str]

# First-page SQL compiled once per query shape, per dialect name (the text depends on it).
_PREPARED: dict[str, PreparedSearches] = {}


class IncludeLookups:
    """_include / _revinclude keys and current contents by key, on one way of running SQL."""

    def __init__(self, run: Rows) -> None:
        self._run = run

    async def rows(self, stmt: Select[Any]) -> Sequence[Sequence[Any]]:
        """A small, indexed statement run the same way (no transaction of its own)."""
        return await self._run(stmt)

    async def include_keys(self, source_type: str, source_ids: Sequence[str],
                           param: str | None, target_type: str | None) -> list[Key]:
        """(type, id) that ``source_type`` resources refer to through ``param`` (None: any)."""
        return await include_keys(self._run, source_type, source_ids, param, target_type)

    async def revinclude_keys(self, source_type: str, param: str | None, target_type: str,
                              target_ids: Sequence[str]) -> list[Key]:
        """(type, id) of ``source_type`` resources referring to the targets through ``param``."""
        return await revinclude_keys(self._run, source_type, param, target_type, target_ids)

    async def fetch_current(self, keys: Sequence[Key]) -> list[tuple[str, str, bytes]]:
        """(type, id, content) of the live resources among ``keys``, in the order given."""
        return await fetch_current(self._run, keys)


class SearchRepository(IncludeLookups):
    """Searches inside the caller's transaction; never commits."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        super().__init__(rows_of(conn))
        self._conn = conn
        self._dialect = dialect

    async def prefer_custom_plans(self, query: Query) -> None:
        """Plan this transaction's searches for their actual values where that pays
        (PostgreSQL, a query of several clauses); a no-op elsewhere."""
        await prefer_custom_plans(self._conn, self._dialect, query)

    async def first_page(self, query: Query, count: int) -> Page | None:
        """The first page through SQL compiled once per query shape, when this engine has
        that path and the query fits it (PostgreSQL, equality tests); None: use ``page``."""
        if await walks(self._conn, self._dialect, query):
            return await search_page(self._conn, self._dialect, query, count=count, walk=True)
        if self._dialect != "postgresql":
            return None
        return await driver_page(self._conn, _prepared(self._conn), query, count)

    async def page(self, query: Query, *, count: int, cursor: Sequence[Any] | None = None,
                   backward: bool = False) -> Page:
        """One page in sort order after (or before) ``cursor``; ValueError for a cursor
        that does not fit the query."""
        walk = await walks(self._conn, self._dialect, query)
        return await search_page(self._conn, self._dialect, query, count=count, cursor=cursor,
                                 backward=backward, walk=walk)

    async def count(self, query: Query) -> int:
        return await count_matches(self._conn, self._dialect, query)

    async def match_ids(self, query: Query, limit: int | None = None) -> list[str]:
        return await match_ids(self._conn, self._dialect, query, limit)

    async def sorted_ids(self, query: Query, limit: int) -> list[str]:
        """Up to ``limit`` matching ids in the query's sort order (no content)."""
        return await sorted_ids(self._conn, self._dialect, query, limit)

    async def save_snapshot(self, snapshot_id: str, resource_type: str, ids: Sequence[str],
                            now_us: int, keep_us: int) -> None:
        """Record a result's order; snapshots older than ``keep_us`` go at the same time."""
        await save_snapshot(self._conn, snapshot_id, resource_type, ids, now_us, keep_us)

    async def snapshot_slice(self, snapshot_id: str, offset: int,
                             limit: int) -> list[Key] | None:
        """(type, id) at positions [offset, offset + limit); None when the snapshot is gone."""
        return await snapshot_slice(self._conn, snapshot_id, offset, limit)

    async def current_batch(self, resource_types: Sequence[str] | None, after: Key | None,
                            limit: int) -> list[tuple[str, str, bytes]]:
        """(type, id, content) of live resources in key order after ``after``."""
        return await current_batch(self._conn, resource_types, after, limit)

    async def announce_change(self) -> None:
        """Tell readers that keep derived answers to check them (index rows rebuilt)."""
        await announce_change(self._conn, self._dialect)


def _prepared(conn: AsyncConnection) -> PreparedSearches:
    name = conn.dialect.name
    if name not in _PREPARED:
        _PREPARED[name] = PreparedSearches(conn.dialect)
    return _PREPARED[name]


class LeanSearch(IncludeLookups):
    """First pages of selective equality lookups outside any transaction (``Database.search``).

    SQLite file: SQL prepared once per shape on the read-only ``sqlite3`` connection, on
    the event loop. PostgreSQL: the same through the asyncpg read pool, for single-shape
    lookups only (several clauses want custom plans: the caller's transaction has them).
    In-memory SQLite: no lean path. Includes of a page found here run the same way.
    """

    def __init__(self, db: ReadSources) -> None:
        self._sqlite: SqliteReader | None = None
        self._pg: PgSearchReader | None = None
        if db.pg is not None:
            self._pg = PgSearchReader(db)
            super().__init__(self._pg.rows)
        else:
            self._sqlite = SqliteReader(db)
            super().__init__(self._sqlite.rows)

    async def first_page(self, query: Query, count: int) -> Page | None:
        """The first ``count`` matches, or None when this query has no lean path here."""
        if lookup_rank(query) > LOOKUP_RANK:
            return None
        if self._sqlite is not None:
            if not self._sqlite.usable:
                return None
            return self._sqlite.page(query, count)
        if self._pg is None or wants_custom_plan(query):
            return None
        return await self._pg.page(query, count)
