"""Unit of work: one connection, one transaction, one commit."""

from __future__ import annotations

import asyncio
import contextvars
from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from eolc_fhir.fhir.errors import ServiceUnavailable
from eolc_fhir.storage.audit_repo import AuditRepository
from eolc_fhir.storage.errors import translated, unavailable
from eolc_fhir.storage.export_repo import ExportJobRepository
from eolc_fhir.storage.measure_repo import MeasureRepository
from eolc_fhir.storage.people_repo import PeopleRepository
from eolc_fhir.storage.repository import ResourceRepository
from eolc_fhir.storage.search_repo import SearchRepository
from eolc_fhir.storage.security_repo import SecurityRepository
from eolc_fhir.storage.subscription_repo import SubscriptionRepository

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["UnitOfWork"]

# True while this task holds the in-process SQLite write lock.
_holding_write: contextvars.ContextVar[bool] = contextvars.ContextVar("eolc_write", default=False)


class UnitOfWork:
    """``async with db.unit_of_work() as uow``: everything inside commits together.

    The typed repositories (``uow.resources``, ``uow.search``, ``uow.security``,
    ``uow.audit``, ``uow.subscriptions``, ``uow.measures``) are made on first use and share
    its transaction.
    Repositories never commit; the unit of work does, once, when the block
    exits cleanly, and rolls back on any exception. Callbacks registered with
    ``after_commit`` run only once the commit has succeeded. A database that is
    unreachable, locked or whose connection dropped (on entry, inside the block
    or at commit) leaves as ``ServiceUnavailable`` (storage/errors.py).
    """

    def __init__(self, engine: AsyncEngine, dialect: str, *, write: bool,
                 write_lock: asyncio.Lock | None = None) -> None:
        self._engine = engine
        self.dialect = dialect
        self.write = write
        self._write_lock = write_lock
        self._token: contextvars.Token[bool] | None = None
        self._conn: AsyncConnection | None = None
        self._after_commit: list[Callable[[], Awaitable[None] | None]] = []
        self.wrote_resources = False  # through ``resources``: a resource or its index rows
        # What one step of a write leaves for a later one in the same transaction
        # (a Subscription's checked delivery spec, from the prepare to the write hook).
        self.notes: dict[Any, Any] = {}
        self._resources: ResourceRepository | None = None

    @property
    def connection(self) -> AsyncConnection:
        """For storage/ and its tests only: services use the repositories."""
        assert self._conn is not None, "unit of work not entered"
        return self._conn

    @property
    def resources(self) -> ResourceRepository:
        """Current rows, history and index rows."""
        if self._resources is None:
            self._resources = ResourceRepository(self.connection, self.dialect)
            self._resources.on_write = self._resource_written
        return self._resources

    @cached_property
    def search(self) -> SearchRepository:
        """Searches, includes and result snapshots."""
        return SearchRepository(self.connection, self.dialect)

    @cached_property
    def security(self) -> SecurityRepository:
        """Clients, signing keys, assertion ids, resource origins and consent."""
        return SecurityRepository(self.connection, self.dialect)

    @cached_property
    def people(self) -> PeopleRepository:
        """Local user accounts and authorization codes (people's sign-in)."""
        return PeopleRepository(self.connection, self.dialect)

    @cached_property
    def audit(self) -> AuditRepository:
        """The append-only audit log."""
        return AuditRepository(self.connection, self.dialect)

    @cached_property
    def exports(self) -> ExportJobRepository:
        """Bulk export jobs."""
        return ExportJobRepository(self.connection, self.dialect)

    @cached_property
    def measures(self) -> MeasureRepository:
        """Measure populations, counted or listed (``$evaluate-measure``)."""
        return MeasureRepository(self.connection, self.dialect)

    @cached_property
    def subscriptions(self) -> SubscriptionRepository:
        """Subscription state and the event outbox."""
        return SubscriptionRepository(self.connection, self.dialect)

    def _resource_written(self) -> None:
        self.wrote_resources = True

    async def lock(self, key: str) -> None:
        """Serialise writers on ``key`` until this transaction ends (conditional writes).

        SQLite writers already hold the database lock (BEGIN IMMEDIATE); PostgreSQL
        takes a transaction-scoped advisory lock on a hash of the key.
        """
        if self.dialect == "postgresql":
            await self.connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
            )

    def after_commit(self, callback: Callable[[], Awaitable[None] | None]) -> None:
        self._after_commit.append(callback)

    async def __aenter__(self) -> UnitOfWork:
        if self._write_lock is not None:
            # SQLite has one writer at a time; queue in-process writers here rather than
            # in SQLite's busy handler, which polls with growing sleeps.
            if _holding_write.get():
                raise RuntimeError("a write unit of work inside another one would deadlock")
            await self._write_lock.acquire()
            self._token = _holding_write.set(True)
        try:
            with translated():
                return await self._begin()
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        if self._token is not None:
            _holding_write.reset(self._token)
            self._token = None
            assert self._write_lock is not None
            self._write_lock.release()

    async def _begin(self) -> UnitOfWork:
        conn = await self._engine.connect()
        try:
            if self.write:
                conn = await conn.execution_options(eolc_write=True)
            await conn.begin()  # SQLite writers: BEGIN IMMEDIATE, which may find it locked
        except BaseException:
            await conn.close()  # back to the pool, not leaked
            raise
        self._conn = conn
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self.connection
        try:
            with translated():
                try:
                    if exc_type is None:
                        await conn.commit()
                    else:
                        await conn.rollback()
                finally:
                    await conn.close()
        finally:
            self._conn = None
            self._resources = self._search = self._security = self._subscriptions = None
            self._release()
        if exc is not None:
            error = None if isinstance(exc, ServiceUnavailable) else unavailable(exc)
            if error is not None:  # after the rollback: the block's failure, as a 503
                raise error from exc
            return
        for callback in self._after_commit:
            result = callback()
            if result is not None:
                await result
