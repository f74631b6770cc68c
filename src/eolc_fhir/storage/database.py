"""The database handle: engine per URL, SQLite tuning, and units of work."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, Literal

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from eolc_fhir.fhir.errors import ServiceUnavailable
from eolc_fhir.storage.errors import translated
from eolc_fhir.storage.pg_reader import PgReader
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["Database", "Dialect"]

Dialect = Literal["sqlite", "postgresql"]


class Database:
    """One per process: owns the engine and hands out units of work."""

    def __init__(self, url: str, *, pool_size: int = 10, read_pool_size: int = 4,
                 busy_timeout: float = 30.0, connect_timeout: float = 10.0) -> None:
        """``busy_timeout``: how long a SQLite statement waits for another connection's
        lock; ``connect_timeout``: how long opening a PostgreSQL connection may take.
        Past either, the request is answered 503 (storage/errors.py)."""
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
        self._writes = 0  # transactions that wrote resources, committed here (PostgreSQL)
        if self.dialect == "sqlite":
            self.engine: AsyncEngine = create_async_engine(
                url, connect_args={"timeout": busy_timeout})
            self._sqlite_path = parsed.database or ":memory:"
            _tune_sqlite(self.engine, busy_timeout)
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

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        """One transaction: commits on a clean exit, rolls back on an exception."""
        lock = self._write_lock if write and self.dialect == "sqlite" else None
        uow = UnitOfWork(self.engine, self.dialect, write=write, write_lock=lock)
        if write and self.pg is not None:
            uow.after_commit(lambda: self._wrote(uow))
        return uow

    def _wrote(self, uow: UnitOfWork) -> None:
        if uow.wrote_resources:
            self._writes += 1

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
        try:
            reader = self.sqlite_reader()
            if reader is None:
                raise LookupError("no fast path")
            with translated():
                row = reader.execute(
                    "SELECT version, last_updated_us, deleted, content FROM resources "
                    "WHERE res_type = ? AND res_id = ?",
                    (resource_type, resource_id),
                ).fetchone()
        except sqlite3.Error as exc:  # anything else: the full path will answer
            raise LookupError("fast path unavailable") from exc
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

    async def read_current(self, resource_type: str,
                           resource_id: str) -> tuple[Any, ...] | None:
        """``fast_read`` on either engine (PostgreSQL: the read pool, one statement)."""
        if self.pg is None:
            return self.fast_read(resource_type, resource_id)
        row = await self.pg.fetchrow(
            "SELECT version, last_updated_us, deleted, content FROM resources "
            "WHERE res_type = $1 AND res_id = $2", (resource_type, resource_id))
        return None if row is None else tuple(row)

    async def close(self) -> None:
        if self.pg is not None:
            await self.pg.close()
        if self._fast is not None:
            self._fast.close()
            self._fast = None
        await self.engine.dispose()


def _tune_sqlite(engine: AsyncEngine, busy_timeout: float) -> None:
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
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front so two writers never deadlock on upgrade.
        if conn.get_execution_options().get("eolc_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")
