"""Bulk loading: the normal write path, with new rows sent as a few multi-row inserts.

``BulkUnitOfWork`` wraps a write unit of work. Its repository buffers what
``store_version`` writes for NEW resources (current row, history row, index
rows) and sends each table's rows in one executemany when the block ends,
before the commit. Everything else (reads, updates, locks, write hooks'
statements) runs at once on the same connection, so the transaction means
the same as with the plain unit of work; it is only fewer round trips.
"""

from __future__ import annotations

from dataclasses import asdict
from types import TracebackType
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eolc_fhir.storage import tables as t
from eolc_fhir.storage.model import IndexRows, StoredResource
from eolc_fhir.storage.repository import ResourceRepository
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["BulkUnitOfWork", "BufferingRepository", "analyze"]

_INDEX = {
    "tokens": t.idx_token,
    "strings": t.idx_string,
    "references": t.idx_reference,
    "dates": t.idx_date,
    "numbers": t.idx_number,
    "quantities": t.idx_quantity,
    "uris": t.idx_uri,
}


class BufferingRepository(ResourceRepository):
    """A repository whose inserts of new resources wait for ``flush``."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        super().__init__(conn, dialect)
        self._current: list[dict[str, Any]] = []
        self._history: list[dict[str, Any]] = []
        self._index: dict[str, list[dict[str, Any]]] = {name: [] for name in _INDEX}

    async def insert_new(self, stored: StoredResource) -> None:
        values = {
            "res_type": stored.resource_type, "res_id": stored.id, "version": stored.version,
            "last_updated_us": stored.last_updated_us, "deleted": stored.deleted,
            "content": stored.content,
        }
        self._current.append(values)
        self._history.append({**values, "method": stored.method})

    async def replace_index(self, resource_type: str, resource_id: str,
                            rows: IndexRows | None, *, existed: bool = True) -> None:
        if existed or rows is None:
            await self.flush()  # keep statement order for anything not brand new
            await super().replace_index(resource_type, resource_id, rows, existed=existed)
            return
        base = {"res_type": resource_type, "res_id": resource_id}
        for name in _INDEX:
            self._index[name].extend({**base, **asdict(item)} for item in getattr(rows, name))

    async def flush(self) -> None:
        if self._current:
            await self.conn.execute(insert(t.resources), self._current)
            await self.conn.execute(insert(t.resource_history), self._history)
            self._current, self._history = [], []
        for name, table in _INDEX.items():
            if self._index[name]:
                await self.conn.execute(insert(table), self._index[name])
                self._index[name] = []


class BulkUnitOfWork(UnitOfWork):
    """``async with BulkUnitOfWork(db.engine, db.dialect) as uow``: one transaction, few inserts."""

    def __init__(self, engine: AsyncEngine, dialect: str) -> None:
        super().__init__(engine, dialect, write=True)
        self._repo: BufferingRepository | None = None

    @property
    def resources(self) -> BufferingRepository:
        if self._repo is None:
            self._repo = BufferingRepository(self.connection, self.dialect)
        return self._repo

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc_type is None and self._repo is not None:
            try:
                await self._repo.flush()
            except BaseException as error:  # roll back, then let the error through
                self._repo = None
                await super().__aexit__(type(error), error, error.__traceback__)
                raise
        self._repo = None
        await super().__aexit__(exc_type, exc, tb)


async def analyze(engine: AsyncEngine, dialect: str) -> None:
    """After a bulk load on PostgreSQL: statistics for the planner, and a vacuum now (sets the
    visibility map for index-only scans) rather than autovacuum's later, mid-traffic."""
    if dialect != "postgresql":
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
