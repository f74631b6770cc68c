"""The database handle: engine per URL, SQLite tuning, units of work and the lean reads.

Everything outside ``storage/`` reaches the database through this handle:
``unit_of_work()`` for transactions (with its typed repositories), and, for
the hot reads outside any transaction, ``read_current`` (a resource by key),
``search`` (first pages of selective lookups) and ``compartment`` (a person's
record), each on the engine's fastest path. Engine differences stay here.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Literal

import orjson
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from eolc_fhir.fhir.errors import ServiceUnavailable
from eolc_fhir.storage.audit_append import SqliteAuditAppender, pg_append
from eolc_fhir.storage.audit_repo import AuditRecord
from eolc_fhir.storage.bulk import analyze
from eolc_fhir.storage.compartment import PatientReader
from eolc_fhir.storage.current_cache import CurrentCache
from eolc_fhir.storage.errors import translated, unavailable
from eolc_fhir.storage.export_rows import ExportSnapshot, export_snapshot
from eolc_fhir.storage.fence import BatchedRead
from eolc_fhir.storage.model import IndexRows, StoredResource
from eolc_fhir.storage.pg_reader import PgReader
from eolc_fhir.storage.search_repo import LeanSearch
from eolc_fhir.storage.security_repo import withdrawn_query
from eolc_fhir.storage.sqlite_driver import one_hop_dbapi
from eolc_fhir.storage.subscription_repo import listen
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.storage.wal_checkpoint import CHECKPOINTS_BESIDE, BackgroundCheckpoint

__all__ = ["Database", "Dialect"]

_READ_CURRENT = ("SELECT version, last_updated_us, deleted, content FROM resources "
                 "WHERE res_type = ? AND res_id = ?")

# Migration 0004's sequence: advanced after each committed resource write (PostgreSQL).
_STARTUP_LOCK = 0x656F6C6373747274  # "eolcstrt": a PostgreSQL advisory lock key
_ADVANCE_CHANGES = "SELECT nextval('eolc_change_seq')"
_READ_CHANGES = "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM eolc_change_seq"


Dialect = Literal["sqlite", "postgresql"]


class Database:
    """One per process: owns the engine and hands out units of work."""

    def __init__(self, url: str, *, pool_size: int = 10, read_pool_size: int = 4,
                 busy_timeout: float = 30.0, connect_timeout: float = 10.0,
                 read_cache_bytes: int = 16 << 20) -> None:
        """``busy_timeout``: how long a SQLite statement waits for another connection's
        lock; ``connect_timeout``: how long opening a PostgreSQL connection may take.
        Past either, the request is answered 503 (storage/errors.py).
        ``read_cache_bytes``: PostgreSQL's cache of current versions (current_cache.py)."""
        self.url = url
        self._busy_timeout = busy_timeout
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database: {backend}")
        self.dialect: Dialect = backend  # type: ignore[assignment]
        self._sqlite_path: str | None = None
        self._fast: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        self.pg: PgReader | None = None
        self._search: LeanSearch | None = None
        self._compartment: PatientReader | None = None
        self._writes = 0  # transactions that wrote resources, committed here (PostgreSQL)
        # Concurrent callers share one read of the sequence (one that began after they asked).
        self._read_changes = BatchedRead(self._read_advanced)
        self._current = CurrentCache(read_cache_bytes)
        self._audit_appender: SqliteAuditAppender | None = None
        self._checkpoints: BackgroundCheckpoint | None = None
        if self.dialect == "sqlite":
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": busy_timeout}, module=one_hop_dbapi())
            self._sqlite_path = parsed.database or ":memory:"
            if self._sqlite_path != ":memory:":
                # Checkpoints run beside the writers, not inside a commit (wal_checkpoint.py).
                self._checkpoints = BackgroundCheckpoint(self._sqlite_path, busy_timeout,
                                                         self._write_lock)
            _tune_sqlite(self.engine, busy_timeout, self._checkpoints is not None)
        else:
            # Custom plans always: a generic plan for a multi-clause search was 10x slower.
            settings = {"plan_cache_mode": "force_custom_plan"}
            self.engine = create_async_engine(
                url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False,
                connect_args={"server_settings": settings, "timeout": connect_timeout},
            )
            # The read pool runs single-shape lookups (by key, one equality, a person's
            # record) again and again: PostgreSQL's default may keep a generic plan and
            # save ~1 ms of planning per call (measured on the $wishes statement). No JIT:
            # compiling a query costs far more than these lookups take.
            self.pg = PgReader(url, size=read_pool_size, connect_timeout=connect_timeout,
                               server_settings={"plan_cache_mode": "auto", "jit": "off"})

    @staticmethod
    def is_embedded_url(url: str) -> bool:
        """True when ``url`` names a SQLite database (one process owns it)."""
        return make_url(url).get_backend_name() == "sqlite"

    @property
    def embedded(self) -> bool:
        """True for SQLite: one process owns the database and its writers take turns.
        False for PostgreSQL, which several processes (API replicas, dispatchers) share."""
        return self.dialect == "sqlite"

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        """One transaction: commits on a clean exit, rolls back on an exception.

        An in-memory SQLite database is one shared connection, which holds one transaction
        at a time: there reads take the write lock too (background tasks such as the export
        runner's sweep would otherwise begin inside a request's transaction)."""
        shared = self._sqlite_path == ":memory:"
        lock = self._write_lock if (write or shared) and self.dialect == "sqlite" else None
        uow = UnitOfWork(self.engine, self.dialect, write=write, write_lock=lock)
        if write and self.pg is not None:
            uow.after_commit(lambda: self._wrote(uow))
        if write and self._checkpoints is not None:
            uow.after_commit(self._checkpoints.committed)
        return uow

    async def _wrote(self, uow: UnitOfWork) -> None:
        if uow.wrote_resources:
            self._writes += 1
            assert self.pg is not None
            try:  # before the answer: see fenced_change_token
                await self.pg.fetchrow(_ADVANCE_CHANGES)
            except ServiceUnavailable:  # committed all the same; the notification follows
                pass

    def sqlite_reader(self) -> sqlite3.Connection | None:
        """The process's one read-only ``sqlite3`` connection, for lookups on the event loop.

        A primary-key or index lookup in sqlite3 takes tens of microseconds, far less than
        a hop through aiosqlite's thread. Autocommit: each statement sees the newest
        committed data. None on PostgreSQL or an in-memory SQLite (a second connection would
        see another, empty database); closed with the Database. ServiceUnavailable when the
        file cannot be opened or is locked.
        """
        if self._sqlite_path is None or self._sqlite_path == ":memory:":
            return None
        if self._fast is None:
            with translated():
                conn = sqlite3.connect(f"file:{self._sqlite_path}?mode=ro", uri=True,
                                       check_same_thread=False, isolation_level=None,
                                       timeout=self._busy_timeout)
                conn.execute("PRAGMA query_only=ON")
            self._fast = conn
        return self._fast

    def fast_read(self, resource_type: str, resource_id: str) -> tuple[Any, ...] | None:
        """Current (version, last_updated_us, deleted, content) by key, on ``sqlite_reader``.

        Returns None when the row is absent; raises LookupError when no fast path exists,
        ServiceUnavailable when the database is locked or cannot be opened (the full path
        would only wait for the same lock again).
        """
        reader = self._fast or self.sqlite_reader()
        if reader is None:
            raise LookupError("no fast path")
        try:  # no context manager here: this runs for every lean read
            row = reader.execute(_READ_CURRENT, (resource_type, resource_id)).fetchone()
        except sqlite3.Error as exc:
            error = unavailable(exc)
            if error is not None:
                raise error from exc
            raise LookupError("fast path unavailable") from exc  # the full path will answer
        return row  # type: ignore[no-any-return]

    def change_token(self) -> tuple[int, int] | None:
        """A value that changes whenever any connection or process commits a resource write.

        Migration 0002 announces every committed resource write (AuditEvents aside).
        SQLite: its ``change_counter`` row, read on the read-only connection (a few
        microseconds). PostgreSQL: the notifications the read pool heard, with this
        process's own commits counted at once (a notification arrives a little after its
        commit). None when there is no such probe (in-memory SQLite, listener down):
        callers then check by reading.
        """
        if self.pg is not None:
            heard = self.pg.changes()
            return None if heard is None else (heard, self._writes)
        try:
            reader = self.sqlite_reader()
            if reader is None:
                return None
            row = reader.execute("SELECT n FROM change_counter WHERE id = 1").fetchone()
        except (sqlite3.Error, ServiceUnavailable):
            return None
        return None if row is None else (int(row[0]), 0)

    async def fenced_change_token(self) -> tuple[int, ...] | None:
        """``change_token``, certain across processes: on PostgreSQL it also reads the
        sequence every process advances after committing a resource write and before
        answering (migration 0004), so a write that another process has already answered
        changes the token even while its notification is still on the way here. One
        round trip on PostgreSQL, shared by the callers that asked meanwhile
        (storage/fence.py); on SQLite the same as ``change_token``."""
        token = self.change_token()
        if token is None or self.pg is None:
            return token
        try:
            advanced = await self._read_changes()
        except ServiceUnavailable:
            return None
        return None if advanced is None else (advanced, *token)

    async def _read_advanced(self) -> int | None:
        assert self.pg is not None
        row = await self.pg.fetchrow(_READ_CHANGES)
        return None if row is None else int(row[0])

    async def read_current(self, resource_type: str,
                           resource_id: str) -> StoredResource | None:
        """A resource's current version by key, outside any transaction (SQLite:
        ``fast_read``; PostgreSQL: kept by ``CurrentCache`` while nothing changed, else the
        read pool, one statement). None when absent; LookupError when there is no lean
        path (in-memory SQLite) or it failed."""
        if self.pg is None:
            return _current(resource_type, resource_id,
                            self.fast_read(resource_type, resource_id))
        key = (resource_type, resource_id)
        # Before reading: a write committed after this token makes what is read stale.
        token = await self.fenced_change_token() if self._current.max_bytes > 0 else None
        if token is not None:
            found, stored = self._current.get(key, token)
            if found:
                return stored
        stored = _current(resource_type, resource_id, await self.pg.fetchrow(
            "SELECT version, last_updated_us, deleted, content FROM resources "
            "WHERE res_type = $1 AND res_id = $2", key))
        if token is not None:
            self._current.put(key, token, stored)
        return stored

    async def append_audit(self, records: Sequence[AuditRecord]) -> None:
        """Commit audit records in one short transaction of their own, on the engine's
        leanest path (storage/audit_append.py); sets each record's id. ServiceUnavailable
        when the database cannot take them now."""
        if self.pg is not None:
            await pg_append(self.pg, records)
        elif self._sqlite_path not in (None, ":memory:"):
            if self._audit_appender is None:
                assert self._sqlite_path is not None and self._checkpoints is not None
                self._audit_appender = SqliteAuditAppender(self._sqlite_path, self._busy_timeout,
                                                           self._write_lock, self._checkpoints)
            await self._audit_appender.append(records)
        else:  # an in-memory database: only the engine's own connection sees it
            async with self.unit_of_work() as uow:
                await uow.audit.append(records)

    async def withdrawn_among(self, patient_ids: Collection[str]) -> set[str]:
        """Which of these people's latest consent-to-share is a withdrawal, read now: on
        PostgreSQL one statement on the read pool, without a transaction of its own (it runs
        on every $wishes that reads a record), else in a read transaction."""
        if not patient_ids:
            return set()
        if self.pg is not None:
            rows = await self.search.rows(withdrawn_query(sorted(patient_ids)))
            return {str(row[0]) for row in rows}
        async with self.unit_of_work(write=False) as uow:
            return await uow.security.withdrawn_patients(patient_ids)

    @property
    def search(self) -> LeanSearch:
        """First pages of selective equality searches outside any transaction."""
        if self._search is None:
            self._search = LeanSearch(self)
        return self._search

    @property
    def compartment(self) -> PatientReader:
        """A person's resources (and their contacts) in one statement, outside any transaction."""
        if self._compartment is None:
            self._compartment = PatientReader(self)
        return self._compartment

    def export_snapshot(self) -> AbstractAsyncContextManager[ExportSnapshot]:
        """One read transaction for a whole bulk export (storage/export_rows.py)."""
        return export_snapshot(self.engine, self.dialect)

    @asynccontextmanager
    async def startup_lock(self) -> AsyncIterator[None]:
        """Held by one starting server at a time (a PostgreSQL session advisory lock, on a
        connection of its own); nothing on SQLite, which one process owns."""
        if self.embedded:
            yield
            return
        async with self.engine.connect() as conn:
            with translated():
                await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _STARTUP_LOCK})
                await conn.commit()
            try:
                yield
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": _STARTUP_LOCK})
                await conn.commit()

    async def listen_for_events(
            self, callback: Callable[[], None]) -> Callable[[], Awaitable[None]] | None:
        """Call ``callback`` whenever another process commits subscription events
        (PostgreSQL LISTEN); returns the function that stops listening. None on SQLite,
        where the one process that writes wakes its dispatcher itself."""
        if self.embedded:
            return None
        return await listen(self.url, callback)

    async def analyze(self) -> None:
        """After a bulk load: planner statistics and a vacuum now (PostgreSQL only)."""
        await analyze(self.engine, self.dialect)

    async def reindex(self, indexer: Callable[[dict[str, Any]], IndexRows],
                      resource_types: Sequence[str] | None = None, *, batch: int = 500) -> int:
        """Rebuild every live resource's index rows with ``indexer``; one transaction per
        batch, so a large store never holds one long write lock. Returns how many."""
        done = 0
        after: tuple[str, str] | None = None
        while True:
            async with self.unit_of_work() as uow:
                rows = await uow.search.current_batch(resource_types, after, batch)
                for rtype, rid, content in rows:
                    await uow.resources.replace_index(rtype, rid, indexer(orjson.loads(content)))
                await uow.search.announce_change()  # no resource row changed
            done += len(rows)
            if len(rows) < batch:
                return done
            after = (rows[-1][0], rows[-1][1])

    async def get_current(self, resource_type: str, resource_id: str) -> StoredResource | None:
        """The current version (a deletion included) of one resource, or None: by the lean
        lookup where this engine has one, else through a read unit of work."""
        try:
            return await self.read_current(resource_type, resource_id)
        except LookupError:
            async with self.unit_of_work(write=False) as uow:
                return await uow.resources.get_current(resource_type, resource_id)

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()
        if self._fast is not None:
            self._fast.close()
            self._fast = None
        if self._audit_appender is not None:
            self._audit_appender.close()
            self._audit_appender = None
        if self._checkpoints is not None:
            await self._checkpoints.aclose()
        await self.engine.dispose()


def _current(resource_type: str, resource_id: str,
             row: Sequence[Any] | None) -> StoredResource | None:
    if row is None:
        return None
    version, last_updated_us, deleted, content = row
    return StoredResource(resource_type, resource_id, version, last_updated_us,
                          bool(deleted), None if deleted else bytes(content))


def _tune_sqlite(engine: AsyncEngine, busy_timeout: float, checkpoints_beside: bool) -> None:
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver (SQLAlchemy's documented recipe).
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        if checkpoints_beside:  # the Database's BackgroundCheckpoint does it after commits
            for pragma in CHECKPOINTS_BESIDE:
                cur.execute(pragma)
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front so two writers never deadlock on upgrade.
        if conn.get_execution_options().get("eolc_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
