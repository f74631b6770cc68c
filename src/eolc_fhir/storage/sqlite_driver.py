"""SQLite through aiosqlite with one thread hop per statement.

aiosqlite runs each sqlite3 call on a worker thread of its own; every call is a
hop there and back (a queue put, a thread wake-up, a future set from that
thread: about 64 µs on this project's 2-core machines, against a few µs for an
indexed insert). SQLAlchemy's aiosqlite adapter makes three or four hops for
each statement (open a cursor, execute, fetch the rows, close the cursor), and
one more for every ``BEGIN``, commit and return to the pool: a plain statement
cost ~315 µs, and a validated create, before any Python of ours, ~5 ms of hops
(docs/performance.md, "Write path").

The connection here does each statement in one hop: the cursor is opened,
executed, its rows fetched and the cursor closed in the worker thread, and
what SQLAlchemy asks of the cursor afterwards (description, rows, rowcount,
lastrowid) is what that hop recorded. SQLAlchemy fetched every row at once
before too (the project never streams results), so nothing waits longer for
its rows. It also knows, after each hop, whether the sqlite3 connection is
inside a transaction: a commit or rollback outside one (the pool's rollback as
a connection goes back, the commit of a read that began nothing) costs no hop.
Everything still runs on aiosqlite's thread, never on the event loop: a
statement waiting for SQLite's lock or a long search blocks no other request.

Used through ``create_async_engine(..., module=one_hop_dbapi())``: the engine's
dialect is SQLAlchemy's own aiosqlite dialect, only its driver module differs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["one_hop_dbapi", "in_one_hop", "executemany_in_one_hop"]

_T = TypeVar("_T")

_Rows = list[Any]


class _Cursor:
    """An aiosqlite cursor whose ``execute`` does the whole statement in one hop."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: _Rows = []

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    def _record(self, cursor: sqlite3.Cursor, rows: _Rows) -> None:
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        self._rows = rows

    async def execute(self, sql: str, parameters: Any = ()) -> _Cursor:
        def run(raw: sqlite3.Connection) -> None:
            cursor = raw.cursor()
            try:
                cursor.execute(sql, parameters)
                self._record(cursor, cursor.fetchall() if cursor.description else [])
            finally:
                cursor.close()

        await self._conn.hop(run)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _Cursor:
        def run(raw: sqlite3.Connection) -> None:
            cursor = raw.cursor()
            try:
                cursor.executemany(sql, parameters)
                self._record(cursor, [])
            finally:
                cursor.close()

        await self._conn.hop(run)
        return self

    async def fetchall(self) -> _Rows:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> _Rows:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def close(self) -> None:
        self._rows = []  # the sqlite3 cursor closed in its hop


class _Connection(aiosqlite.Connection):
    """aiosqlite's connection with one-hop cursors and no hop for a commit or rollback
    that has nothing to end."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Unknown until a hop of ours has looked: until then commit and rollback hop.
        self._in_transaction = True

    async def hop(self, fn: Any) -> Any:
        """``fn(sqlite3 connection)`` on the worker thread; notes the transaction state."""
        def run() -> Any:
            raw = self._conn
            try:
                return fn(raw)
            finally:
                self._in_transaction = raw.in_transaction

        return await self._execute(run)  # type: ignore[no-untyped-call]

    def cursor(self) -> _Cursor:  # type: ignore[override]
        return _Cursor(self)

    async def commit(self) -> None:
        if self._in_transaction:
            await self.hop(lambda raw: raw.commit())

    async def rollback(self) -> None:
        if self._in_transaction:
            await self.hop(lambda raw: raw.rollback())


class _Dbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> Any:
        def open_connection(database: str, **kwargs: Any) -> _Connection:
            kwargs.pop("loop", None)
            chunk = kwargs.pop("iter_chunk_size", 64)
            conn = _Connection(lambda: sqlite3.connect(database, **kwargs), chunk)
            conn._thread.daemon = True  # as SQLAlchemy's adapter does for aiosqlite's own
            return conn

        kw.setdefault("async_creator_fn", open_connection)
        return super().connect(*arg, **kw)


def one_hop_dbapi() -> Any:
    """The driver module for ``create_async_engine(sqlite+aiosqlite URL, module=...)``."""
    return _Dbapi(aiosqlite, sqlite3)


async def in_one_hop(conn: AsyncConnection, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    """``fn(sqlite3 connection)`` on the driver's thread, inside ``conn``'s transaction, in
    a single hop (an engine made with ``one_hop_dbapi``). Values go to sqlite3 as they
    are: plain ints, floats, strings and bytes (no SQLAlchemy type processing); its
    errors are sqlite3's own."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, _Connection), "an engine made with one_hop_dbapi()"
    result: _T = await driver.hop(fn)
    return result


async def executemany_in_one_hop(conn: AsyncConnection,
                                 batches: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
    """Each ``(sql, rows)`` batch's executemany, in order, as ``in_one_hop``."""
    def run(db: sqlite3.Connection) -> None:
        for sql, rows in batches:
            db.executemany(sql, rows)

    await in_one_hop(conn, run)
