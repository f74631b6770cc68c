"""Database failures worth retrying become the domain's ``ServiceUnavailable`` (503).

Whatever the path to the database (the unit of work on SQLAlchemy, the lean
``sqlite3`` reads, the asyncpg read pool), a database that is unreachable,
locked or whose connection dropped must answer "retry shortly", never a bare
500. ``unavailable(exc)`` recognises such failures through the exception's
chain (SQLAlchemy keeps the driver's exception as ``orig`` and as the cause):

- SQLite: busy or locked (another connection holds the lock past the busy
  timeout), cannot open the file, I/O error;
- PostgreSQL: connection errors (SQLSTATE class 08: refused, dropped, does not
  exist), shutdown or start-up in progress (57P01-57P03), too many
  connections (53300), and a transaction that lost a deadlock or serialization
  race or a lock wait (40001, 40P01, 55P03: retrying succeeds);
- the network: ``OSError`` (refused, reset, unreachable, timed out);
- SQLAlchemy: pool timeout, disconnection, a connection it invalidated, and an
  ``OperationalError`` of a driver other than sqlite3 (the DB-API's class for
  "the database failed, not the statement"; sqlite3 also files a missing table
  there, so SQLite's own error code decides instead);
- a driver's or SQLAlchemy's failure raised while handling one of these (e.g. the
  rollback after it); our own errors keep their meaning whatever they were raised in.

Anything else (a constraint, a bug in a statement) stays what it is. Neither
the answer nor the log line quotes the driver's message: SQLAlchemy's carries
the statement's parameters, i.e. patient data.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from eolc_fhir.fhir.errors import ServiceUnavailable

__all__ = ["unavailable", "translated", "RETRY_AFTER_SECONDS"]

log = logging.getLogger("eolc_fhir.storage")

RETRY_AFTER_SECONDS = 5
_SQLITE_BUSY = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_SQLITE_DOWN = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_PROTOCOL}
_PG_BUSY = {"40001", "40P01", "55P03"}
_PG_DOWN = {"57P01", "57P02", "57P03", "53300"}
_BUSY = "the database is busy (another connection holds its lock); retry shortly"
_DOWN = "the database cannot be reached (connection refused, lost or timed out); retry shortly"
_CHAIN_LIMIT = 8


def unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 that ``exc`` (or an exception it was raised from) stands for, else None."""
    chain = list(_chain(exc))
    found = next(((item, kind) for item in chain if (kind := _kind(item)) is not None), None)
    if found is None:
        found = next(((item, _DOWN) for item in chain if _operational(item)), None)
    if found is None:
        return None
    log.warning("database unavailable: %s (%s)", _name(found[0]), _name(exc))
    return ServiceUnavailable(found[1], retry_after=RETRY_AFTER_SECONDS)


def _operational(exc: BaseException) -> bool:
    return isinstance(exc, sa_exc.OperationalError) and not isinstance(exc.orig, sqlite3.Error)


@contextmanager
def translated() -> Iterator[None]:
    """Raise ``ServiceUnavailable`` for a retryable database failure inside the block."""
    try:
        yield
    except ServiceUnavailable:
        raise
    except Exception as exc:
        error = unavailable(exc)
        if error is None:
            raise
        raise error from exc


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver exception SQLAlchemy wrapped, their causes, and what each was
    raised while handling: a rollback that fails because the connection dropped under the
    statement before it (asyncpg: "another operation is in progress") stands for that drop
    (PostgreSQL stopped under a group of creates answered 500 that way)."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < _CHAIN_LIMIT:
        item = todo.pop(0)
        if id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        orig = getattr(item, "orig", None)
        context = item.__context__ if _from_the_database(item) else None
        todo += [x for x in (orig, item.__cause__, context) if isinstance(x, BaseException)]


def _from_the_database(exc: BaseException) -> bool:
    """Raised by a driver or by SQLAlchemy (not by our own code)."""
    return isinstance(exc, sqlite3.Error | sa_exc.SQLAlchemyError) or \
        type(exc).__module__.startswith(("asyncpg", "sqlalchemy"))


def _kind(exc: BaseException) -> str | None:
    """_BUSY, _DOWN, or None when this exception alone says nothing retryable."""
    if isinstance(exc, sqlite3.Error):
        return _sqlite_kind(exc)
    if isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return _DOWN  # no pooled connection came free in time / the connection was lost
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return _DOWN
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _PG_BUSY:
            return _BUSY
        if sqlstate.startswith("08") or sqlstate in _PG_DOWN:
            return _DOWN
    if type(exc).__name__ == "InterfaceError" and type(exc).__module__.startswith("asyncpg"):
        text = str(exc)  # asyncpg's own words ("connection is closed"), never data
        return _DOWN if "closed" in text or "closing" in text else None
    if type(exc).__name__ == "InternalClientError" and type(exc).__module__.startswith("asyncpg"):
        # A pooled connection the server terminated mid-use: its protocol refuses the next
        # statement ("cannot switch to state ...") before the pool notices it is gone.
        return _DOWN if "cannot switch to state" in str(exc) else None
    if isinstance(exc, OSError):
        return _DOWN
    return None


def _sqlite_kind(exc: sqlite3.Error) -> str | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF
        return _BUSY if primary in _SQLITE_BUSY else _DOWN if primary in _SQLITE_DOWN else None
    text = str(exc)  # raised without a code (by a wrapper): SQLite's own fixed messages
    if "database is locked" in text or "database table is locked" in text:
        return _BUSY
    return _DOWN if "unable to open database" in text else None


def _name(exc: BaseException) -> str:
    code = getattr(exc, "sqlite_errorname", None) or getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__} {code}" if code else type(exc).__name__
