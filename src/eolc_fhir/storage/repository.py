"""The narrow door to stored resources: current rows, history and index rows."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage import tables as t
from eolc_fhir.storage.model import IndexRows, StoredResource, ids_by_type
from eolc_fhir.storage.sqlite_driver import executemany_in_one_hop

__all__ = ["ResourceRepository", "ConcurrentWriteError", "HistoryEntry"]


class ConcurrentWriteError(Exception):
    """Another transaction changed the same resource first; the caller may retry."""


HistoryEntry = tuple[int, StoredResource]  # (sequence number, version)

_INDEX_FIELDS: tuple[tuple[str, Any], ...] = (
    ("tokens", t.idx_token),
    ("strings", t.idx_string),
    ("references", t.idx_reference),
    ("dates", t.idx_date),
    ("numbers", t.idx_number),
    ("quantities", t.idx_quantity),
    ("uris", t.idx_uri),
    ("texts", t.idx_text),
)

_CURRENT_COLS = (
    t.resources.c.res_type,
    t.resources.c.res_id,
    t.resources.c.version,
    t.resources.c.last_updated_us,
    t.resources.c.deleted,
    t.resources.c.content,
)


def _stored(row: Any, method: str = "PUT") -> StoredResource:
    return StoredResource(
        resource_type=row.res_type,
        id=row.res_id,
        version=row.version,
        last_updated_us=row.last_updated_us,
        deleted=bool(row.deleted),
        content=bytes(row.content) if row.content is not None else None,
        method=getattr(row, "method", method),
    )


class ResourceRepository:
    """Reads and writes inside the caller's transaction; never commits."""

    on_write: Callable[[], None] | None = None  # told of each resource or index row written

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    def _wrote(self) -> None:
        if self.on_write is not None:
            self.on_write()

    async def get_current(self, resource_type: str, resource_id: str, *,
                          for_update: bool = False) -> StoredResource | None:
        stmt = select(*_CURRENT_COLS).where(
            t.resources.c.res_type == resource_type, t.resources.c.res_id == resource_id
        )
        if for_update and self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return _stored(row) if row is not None else None

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> list[StoredResource]:
        """Current, non-deleted versions for (type, id) keys, in the order given."""
        found: dict[tuple[str, str], StoredResource] = {}
        for rtype, ids in ids_by_type(keys).items():
            stmt = select(*_CURRENT_COLS).where(
                t.resources.c.res_type == rtype,
                t.resources.c.res_id.in_(ids),
                t.resources.c.deleted.is_(False),
            )
            found.update({(r.res_type, r.res_id): _stored(r)
                          for r in await self.conn.execute(stmt)})
        return [found[k] for k in keys if k in found]

    async def get_version(self, resource_type: str, resource_id: str,
                          version: int) -> StoredResource | None:
        h = t.resource_history
        stmt = select(h).where(
            h.c.res_type == resource_type, h.c.res_id == resource_id, h.c.version == version
        )
        row = (await self.conn.execute(stmt)).first()
        return _stored(row) if row is not None else None

    async def insert_new(self, stored: StoredResource) -> None:
        """Insert a resource that did not exist; ConcurrentWriteError if it now does."""
        # No savepoint: a duplicate key ends this attempt and the caller retries the
        # whole unit of work (on PostgreSQL the transaction is aborted anyway).
        try:
            await self.conn.execute(insert(t.resources).values(_current_values(stored)))
        except IntegrityError as exc:
            raise ConcurrentWriteError(stored.id) from exc
        await self._append_history(stored)

    async def insert_new_many(self, items: Sequence[tuple[StoredResource, IndexRows]]) -> None:
        """``insert_new`` plus the index rows of many new resources: one executemany per table.

        Rows go in the order given, so history sequence numbers and index row ids come out
        as if each resource had been inserted on its own, one after the other.
        """
        if not items:
            return
        if any(s.resource_type not in t.UNWATCHED_TYPES for s, _ in items):
            self._wrote()
        if self.dialect == "sqlite":
            await self._sqlite_insert_new_many(items)
            return
        rows = [_current_values(s) for s, _ in items]
        try:
            await self.conn.execute(insert(t.resources), rows)
        except IntegrityError as exc:
            raise ConcurrentWriteError(", ".join(s.id for s, _ in items[:3])) from exc
        history = [{**row, "method": s.method} for row, (s, _) in zip(rows, items, strict=True)]
        try:
            await self._insert_many(t.resource_history, history)
        except IntegrityError as exc:
            raise ConcurrentWriteError(items[0][0].id) from exc
        for attr, table in _INDEX_FIELDS:
            values = [{"res_type": s.resource_type, "res_id": s.id, **_flat(item)}
                      for s, index in items for item in getattr(index, attr)]
            if values:
                await self._insert_many(table, values)

    async def _sqlite_insert_new_many(self, items: Sequence[tuple[StoredResource, IndexRows]]
                                      ) -> None:
        """``insert_new_many`` on SQLite: every table's executemany in one hop to the
        driver's thread (storage/sqlite_driver.py), not three or four hops per table."""
        current = [_current_tuple(s) for s, _ in items]
        batches = [(_RESOURCE_INSERT, current),
                   (_HISTORY_INSERT, [(*row, s.method) for row, (s, _) in zip(
                       current, items, strict=True)])]
        for attr, table in _INDEX_FIELDS:
            names = None
            values = []
            for s, index in items:
                for item in getattr(index, attr):
                    names = names or _field_names(item)
                    values.append((s.resource_type, s.id, *(getattr(item, n) for n in names)))
            if names is not None:
                batches.append((_sqlite_index_insert(table, names), values))
        try:
            await executemany_in_one_hop(self.conn, batches)
        except sqlite3.IntegrityError as exc:
            raise ConcurrentWriteError(", ".join(s.id for s, _ in items[:3])) from exc

    async def _insert_many(self, table: Any, rows: list[dict[str, Any]]) -> None:
        """One executemany; on PostgreSQL a COPY into the table (several times faster for
        thousands of rows; the serial key still comes from its sequence, in row order)."""
        driver = await self._pg_in_transaction()
        if driver is None:
            await self.conn.execute(insert(table), rows)
            return
        columns = list(rows[0])
        await driver.copy_records_to_table(
            table.name, columns=columns, records=[tuple(r[c] for c in columns) for r in rows])

    async def _pg_in_transaction(self) -> Any:
        """The asyncpg connection under this one, if PostgreSQL and inside our transaction
        (SQLAlchemy's asyncpg adapter begins lazily, at its first statement)."""
        if self.dialect != "postgresql":
            return None
        raw = await self.conn.get_raw_connection()
        driver = raw.driver_connection
        if driver is None or not driver.is_in_transaction():
            return None
        return driver

    async def replace_current(self, stored: StoredResource, previous_version: int) -> None:
        """Move a resource from previous_version to stored.version (compare and swap)."""
        r = t.resources
        result = await self.conn.execute(
            update(r)
            .where(
                r.c.res_type == stored.resource_type,
                r.c.res_id == stored.id,
                r.c.version == previous_version,
            )
            .values(_current_values(stored))
        )
        if result.rowcount != 1:
            raise ConcurrentWriteError(stored.id)
        await self._append_history(stored)

    async def _append_history(self, stored: StoredResource) -> None:
        self._wrote()
        values = _current_values(stored)
        values["method"] = stored.method
        try:
            await self.conn.execute(insert(t.resource_history).values(values))
        except IntegrityError as exc:
            raise ConcurrentWriteError(stored.id) from exc

    async def replace_index(self, resource_type: str, resource_id: str,
                            rows: IndexRows | None, *, existed: bool = True) -> None:
        """Drop a resource's index rows and write the new ones (None: only drop)."""
        self._wrote()
        for attr, table in _INDEX_FIELDS:
            if existed:
                await self.conn.execute(
                    delete(table).where(
                        table.c.res_type == resource_type, table.c.res_id == resource_id
                    )
                )
            items = getattr(rows, attr) if rows is not None else ()
            if items:
                base = {"res_type": resource_type, "res_id": resource_id}
                await self.conn.execute(
                    insert(table), [{**base, **asdict(item)} for item in items]
                )

    async def history(self, *, resource_type: str | None = None, resource_id: str | None = None,
                      since_us: int | None = None, at_or_before_seq: int | None = None,
                      limit: int = 50) -> list[HistoryEntry]:
        """Newest first; page with at_or_before_seq (keyset on the history sequence)."""
        h = t.resource_history
        stmt = select(h).order_by(h.c.seq.desc()).limit(limit)
        for clause in _history_filters(resource_type, resource_id, since_us, at_or_before_seq):
            stmt = stmt.where(clause)
        return [(row.seq, _stored(row)) for row in await self.conn.execute(stmt)]

    async def history_count(self, *, resource_type: str | None = None,
                            resource_id: str | None = None, since_us: int | None = None,
                            at_or_before_seq: int | None = None) -> int:
        h = t.resource_history
        stmt = select(func.count()).select_from(h)
        for clause in _history_filters(resource_type, resource_id, since_us, at_or_before_seq):
            stmt = stmt.where(clause)
        return int((await self.conn.execute(stmt)).scalar_one())

    async def ids_with_token(self, resource_type: str, param: str, system: str | None,
                             code: str) -> list[str]:
        """Ids of current resources with a token index row (minimal conditional search)."""
        tok = t.idx_token
        stmt = select(tok.c.res_id).distinct().where(
            tok.c.res_type == resource_type, tok.c.param == param, tok.c.code == code
        )
        if system is not None:
            stmt = stmt.where(tok.c.system == (system or None))
        return [row[0] for row in await self.conn.execute(stmt)]

    async def exists_live(self, resource_type: str, resource_id: str) -> bool:
        current = await self.get_current(resource_type, resource_id)
        return current is not None and not current.deleted


def _current_values(stored: StoredResource) -> dict[str, Any]:
    return {
        "res_type": stored.resource_type,
        "res_id": stored.id,
        "version": stored.version,
        "last_updated_us": stored.last_updated_us,
        "deleted": stored.deleted,
        "content": stored.content,
    }


def _current_tuple(stored: StoredResource) -> tuple[Any, ...]:
    """``_current_values`` in the column order of ``_RESOURCE_INSERT`` (deleted as 0/1)."""
    return (stored.resource_type, stored.id, stored.version, stored.last_updated_us,
            int(stored.deleted), stored.content)


_RESOURCE_INSERT = ("INSERT INTO resources (res_type, res_id, version, last_updated_us, "
                    "deleted, content) VALUES (?, ?, ?, ?, ?, ?)")
_HISTORY_INSERT = ("INSERT INTO resource_history (res_type, res_id, version, last_updated_us, "
                   "deleted, content, method) VALUES (?, ?, ?, ?, ?, ?, ?)")
_SQLITE_INSERTS: dict[tuple[str, tuple[str, ...]], str] = {}


def _sqlite_index_insert(table: Any, names: tuple[str, ...]) -> str:
    key = (table.name, names)
    sql = _SQLITE_INSERTS.get(key)
    if sql is None:
        columns = ("res_type", "res_id", *names)
        for name in columns:
            table.c[name]  # noqa: B018 (a KeyError here: a row field the table lacks)
        sql = _SQLITE_INSERTS[key] = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
                                      f"VALUES ({', '.join('?' * len(columns))})")
    return sql


_FIELDS: dict[type, tuple[str, ...]] = {}


def _field_names(item: object) -> tuple[str, ...]:
    names = _FIELDS.get(type(item))
    if names is None:
        names = _FIELDS[type(item)] = tuple(f.name for f in fields(item))  # type: ignore[arg-type]
    return names


def _flat(item: object) -> dict[str, object]:
    # dataclasses.asdict deep-copies every value: most of a bulk insert's cost. Rows are flat.
    return {name: getattr(item, name) for name in _field_names(item)}


def _history_filters(resource_type: str | None, resource_id: str | None, since_us: int | None,
                     at_or_before_seq: int | None) -> list[Any]:
    h = t.resource_history
    clauses = []
    if resource_type is not None:
        clauses.append(h.c.res_type == resource_type)
    if resource_id is not None:
        clauses.append(h.c.res_id == resource_id)
    if since_us is not None:
        clauses.append(h.c.last_updated_us >= since_us)
    if at_or_before_seq is not None:
        clauses.append(h.c.seq <= at_or_before_seq)
    return clauses
