"""Database failures worth retrying are recognised as ServiceUnavailable (503), whatever the
driver; every other failure stays what it is (storage/errors.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from eolc_fhir.fhir.errors import ServiceUnavailable
from eolc_fhir.storage.errors import translated, unavailable


def _real_sqlite_busy(tmp_path: Path) -> sqlite3.OperationalError:
    path = str(tmp_path / "busy.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        other.close()
        holder.close()
    raise AssertionError("no lock")


def _wrapped(orig: BaseException, cls: type[sa_exc.DBAPIError] = sa_exc.OperationalError,
             invalidated: bool = False) -> sa_exc.DBAPIError:
    error = cls("SELECT * FROM resources WHERE nhs = ?", ("9434765919",), orig,
                connection_invalidated=invalidated)
    error.__cause__ = orig
    return error


def test_retryable_database_failures_are_recognised(tmp_path: Path) -> None:
    busy = _real_sqlite_busy(tmp_path)
    assert busy.sqlite_errorname == "SQLITE_BUSY"
    for exc in [
        busy, _wrapped(busy), sqlite3.OperationalError("database is locked"),
        sqlite3.OperationalError("unable to open database file"),
        ConnectionRefusedError(111, "refused"), TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle"),
        asyncpg.exceptions.CannotConnectNowError("starting up"),
        asyncpg.exceptions.AdminShutdownError("terminating"),
        asyncpg.exceptions.TooManyConnectionsError("too many"),
        asyncpg.exceptions.DeadlockDetectedError("deadlock"),
        asyncpg.exceptions.InterfaceError("cannot call Connection.fetch(): connection is closed"),
        asyncpg.exceptions._base.InternalClientError(
            "cannot switch to state 15; another operation (2) is in progress"),
        _wrapped(asyncpg.exceptions.AdminShutdownError("x"), sa_exc.DBAPIError),
        _wrapped(ValueError("?"), sa_exc.DBAPIError, invalidated=True),
        _wrapped(RuntimeError("driver"), sa_exc.OperationalError),
        sa_exc.TimeoutError("QueuePool limit reached"), sa_exc.DisconnectionError("gone"),
    ]:
        error = unavailable(exc)
        assert isinstance(error, ServiceUnavailable), repr(exc)
        assert error.headers["Retry-After"]
        assert "9434765919" not in str(error.issues)
    assert "busy" in str(unavailable(busy))



def _raised_while_handling(first: BaseException, then: BaseException) -> BaseException:
    try:
        try:
            raise first
        except BaseException:
            raise then  # noqa: B904 - implicitly chained, as a failed rollback is
    except BaseException as exc:
        return exc


def test_a_failed_rollback_after_a_dropped_connection_is_the_drop() -> None:
    """Seen under a group of creates while PostgreSQL stopped (tests/faults): the COPY failed
    as the connection went, then the rollback failed on the broken connection and SQLAlchemy
    raised that; it was answered 500."""
    copy_failed = asyncpg.exceptions._base.InternalClientError(
        "cannot switch to state 15; another operation (2) is in progress")
    busy = "cannot perform operation: another operation is in progress"
    rollback_failed = _raised_while_handling(copy_failed,
                                             asyncpg.exceptions.InterfaceError(busy))
    error = unavailable(_wrapped(rollback_failed, sa_exc.InterfaceError))
    assert isinstance(error, ServiceUnavailable) and error.headers["Retry-After"]
    # The same rollback failure after a failure that is not the database's stays a 500.
    after_a_bug = _raised_while_handling(ValueError("a bug"),
                                         asyncpg.exceptions.InterfaceError(busy))
    assert unavailable(_wrapped(after_a_bug, sa_exc.InterfaceError)) is None
    # Our own error raised while handling a network failure (a webhook, a file) keeps its
    # meaning: it is not the database's.
    ours = _raised_while_handling(ConnectionResetError(), ValueError("not the database"))
    assert unavailable(ours) is None

def test_other_failures_stay_what_they_are() -> None:
    no_table = sqlite3.OperationalError("no such table: resources")
    no_table.sqlite_errorcode = sqlite3.SQLITE_ERROR  # type: ignore[attr-defined]
    for exc in [
        ValueError("x"), KeyError("x"), no_table, _wrapped(no_table),
        _wrapped(sqlite3.IntegrityError("UNIQUE"), sa_exc.IntegrityError),
        asyncpg.exceptions.UniqueViolationError("dup"),
        asyncpg.exceptions.InterfaceError("the server expects 2 arguments, 1 was passed"),
        asyncpg.exceptions._base.InternalClientError("unexpected codec state"),
        _wrapped(asyncpg.exceptions.SyntaxOrAccessError("syntax"), sa_exc.ProgrammingError),
    ]:
        assert unavailable(exc) is None, repr(exc)
    with pytest.raises(ValueError), translated():
        raise ValueError("stays")
    with pytest.raises(ServiceUnavailable) as caught, translated():
        raise ConnectionResetError()
    assert isinstance(caught.value.__cause__, ConnectionResetError)


async def test_a_503_from_inside_a_unit_of_work_leaves_it_as_it_is(tmp_path: Path) -> None:
    from eolc_fhir.storage.database import Database

    db = Database(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    try:
        original = ServiceUnavailable("the read pool is down")  # as translated() raises it
        original.__cause__ = ConnectionRefusedError()
        with pytest.raises(ServiceUnavailable) as caught:
            async with db.unit_of_work(write=False):
                raise original
        assert caught.value is original
        with pytest.raises(ServiceUnavailable) as caught:
            async with db.unit_of_work(write=False):
                raise ConnectionResetError()  # a driver failure inside the block
        assert isinstance(caught.value.__cause__, ConnectionResetError)
    finally:
        await db.close()
