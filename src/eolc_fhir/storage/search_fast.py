"""A lean path for the hot lookups (NHS number, flags of a patient): SQL prepared once per shape.

Building and compiling a SQLAlchemy statement costs about 1 ms, more than the
lookup itself. A query whose tests are all equalities has a *shape* (the plan
with its values taken out): its SQL is compiled once and later runs of the
same shape only bind the new values. On a SQLite file the statement runs on a
read-only ``sqlite3`` connection on the event loop (tens of microseconds,
docs/performance.md); on PostgreSQL through the Database's asyncpg read pool
(``storage/pg_reader.py``), or inside a caller's unit of work as driver SQL.
Each path raises ``ServiceUnavailable`` when the database is locked or unreachable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage.errors import translated
from eolc_fhir.storage.model import PageRow
from eolc_fhir.storage.pg_reader import PgReader
from eolc_fhir.storage.query import (
    Chain,
    Clause,
    Criterion,
    Has,
    IdTest,
    Missing,
    Query,
    ReferenceTest,
    StringTest,
    Test,
    TokenTest,
    UriTest,
)
from eolc_fhir.storage.read_sources import ReadSources
from eolc_fhir.storage.search_sql import page_statement

__all__ = ["PreparedSearches", "SqliteReader", "PgSearchReader", "template", "driver_page"]

_MAX_SHAPES = 512


class _Values:
    """Collects values taken out of a plan; each is replaced by a unique marker."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def mark(self, value: str | None) -> str | None:
        if value is None:
            return None
        self.values.append(value)
        return f"\x00{len(self.values) - 1}\x00"


def _test(test: Test, vals: _Values) -> Test | None:
    if isinstance(test, TokenTest) and test.text is None:
        return TokenTest(vals.mark(test.code), vals.mark(test.system), test.any_system)
    if isinstance(test, ReferenceTest) and test.url is None:
        return ReferenceTest(vals.mark(test.target_id), test.target_types)
    if isinstance(test, StringTest) and test.mode == "exact":
        return StringTest(vals.mark(test.value) or "", "exact")
    if isinstance(test, UriTest) and test.mode == "eq":
        return UriTest(vals.mark(test.value) or "")
    return None


def _clause(clause: Clause, vals: _Values) -> Clause | None:
    if isinstance(clause, Missing):
        return clause
    if isinstance(clause, IdTest):
        return IdTest(tuple(vals.mark(i) or "" for i in clause.ids), clause.negate)
    if isinstance(clause, Criterion):
        tests = [_test(x, vals) for x in clause.tests]
        if any(x is None for x in tests):
            return None
        return replace(clause, tests=tuple(x for x in tests if x is not None))
    if isinstance(clause, Chain):
        targets = [_query(q, vals) for q in clause.targets]
        if any(q is None for q in targets):
            return None
        return Chain(clause.param, tuple(q for q in targets if q is not None))
    if isinstance(clause, Has):
        source = _query(clause.source, vals)
        return None if source is None else Has(clause.param, source, clause.negate)
    return None  # date/number ranges: values shape the SQL, not worth caching


def _query(query: Query, vals: _Values) -> Query | None:
    if query.sort:
        return None
    clauses = [_clause(c, vals) for c in query.clauses]
    if any(c is None for c in clauses):
        return None
    return Query(query.resource_type, tuple(c for c in clauses if c is not None))


def template(query: Query) -> tuple[Query, list[Any]] | None:
    """(shape, values) when every test is an equality; None otherwise."""
    vals = _Values()
    shape = _query(query, vals)
    return None if shape is None else (shape, vals.values)


class PreparedSearches:
    """Compiled first-page SQL per (shape, page size) for one dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._cache: dict[tuple[Query, int], tuple[str, list[tuple[bool, Any]]]] = {}

    def prepare(self, query: Query, count: int) -> tuple[str, list[Any]] | None:
        found = template(query)
        if found is None:
            return None
        shape, values = found
        entry = self._cache.get((shape, count))
        if entry is None:
            entry = self._compile(shape, count)
            if len(self._cache) >= _MAX_SHAPES:
                self._cache.clear()
            self._cache[(shape, count)] = entry
        sql, slots = entry
        return sql, [values[v] if is_marker else v for is_marker, v in slots]

    def _compile(self, shape: Query, count: int) -> tuple[str, list[tuple[bool, Any]]]:
        stmt = page_statement(self.dialect.name, shape, count=count)
        compiled = stmt.compile(dialect=self.dialect,
                                compile_kwargs={"render_postcompile": True})
        slots: list[tuple[bool, Any]] = []
        for name in compiled.positiontup or ():
            value = compiled.params[name]
            if isinstance(value, str) and value.startswith("\x00") and value.endswith("\x00"):
                slots.append((True, int(value[1:-1])))
            else:
                slots.append((False, value))
        return str(compiled), slots


def _rows(raw: Sequence[Sequence[Any]], count: int) -> tuple[list[PageRow], bool]:
    page = [PageRow(r[0], bytes(r[1]), tuple(r[2:])) for r in raw[:count]]
    return page, len(raw) > count


class SqliteReader:
    """Prepared search lookups on the Database's read-only sqlite3 connection (event loop)."""

    def __init__(self, db: ReadSources) -> None:
        self.db = db
        self.prepared = PreparedSearches(_sqlite_dialect())

    @property
    def usable(self) -> bool:
        return self.db.sqlite_reader() is not None

    def page(self, query: Query, count: int) -> tuple[list[PageRow], bool] | None:
        prepared = self.prepared.prepare(query, count)
        if prepared is None:
            return None
        sql, params = prepared
        with translated():  # locked: 503, as on the full path
            return _rows(self._connection().execute(sql, params).fetchall(), count)

    def _connection(self) -> sqlite3.Connection:
        conn = self.db.sqlite_reader()
        assert conn is not None, "check usable first"
        return conn

    async def rows(self, stmt: Select[Any]) -> Sequence[Sequence[Any]]:
        """Run a (small, indexed) statement on the loop; a ``Rows`` for include lookups."""
        with translated():
            return self._connection().execute(
                *_positional(stmt, self.prepared.dialect)).fetchall()


class PgSearchReader:
    """The same prepared lookups on PostgreSQL, through the Database's asyncpg read pool."""

    def __init__(self, db: ReadSources) -> None:
        self.db = db
        self.prepared = PreparedSearches(_asyncpg_dialect())

    async def page(self, query: Query, count: int) -> tuple[list[PageRow], bool] | None:
        prepared = self.prepared.prepare(query, count)
        if prepared is None:
            return None
        sql, params = prepared
        return _rows(await self._pool().fetch(sql, params), count)

    async def rows(self, stmt: Select[Any]) -> Sequence[Sequence[Any]]:
        """A (small, indexed) statement on the read pool; a ``Rows`` for include lookups."""
        return await self._pool().fetch(*_positional(stmt, self.prepared.dialect))

    def _pool(self) -> PgReader:
        assert self.db.pg is not None, "PostgreSQL only"
        return self.db.pg


def _positional(stmt: Select[Any], dialect: Dialect) -> tuple[str, list[Any]]:
    """The statement's SQL for ``dialect`` and its parameters in order."""
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    return str(compiled), [compiled.params[name] for name in compiled.positiontup or ()]


async def driver_page(conn: AsyncConnection, prepared: PreparedSearches, query: Query,
                      count: int) -> tuple[list[PageRow], bool] | None:
    """The prepared SQL through an SQLAlchemy connection (PostgreSQL)."""
    found = prepared.prepare(query, count)
    if found is None:
        return None
    sql, params = found
    result = await conn.exec_driver_sql(sql, tuple(params))
    return _rows(result.all(), count)


def _asyncpg_dialect() -> Dialect:
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

    return PGDialect_asyncpg()  # type: ignore[no-untyped-call]


def _sqlite_dialect() -> Dialect:
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    return SQLiteDialect_pysqlite(paramstyle="qmark")
