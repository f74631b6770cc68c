"""SQLite: commits (the audit appender's and the engine's writes) leave WAL checkpoints to a
background thread."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from eolc_fhir.storage.audit_repo import AuditRecord
from eolc_fhir.storage.database import Database

pytestmark = pytest.mark.engines("sqlite")


def _in_main_file(path: str, sql: str = "SELECT count(*) FROM audit_log") -> int:
    """``sql``'s number (by default the audit rows) in the database file itself, the WAL
    ignored: what checkpoints copied."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def _record(n: int) -> AuditRecord:
    return AuditRecord("read", 1_700_000_000_000_000 + n, 200, "crew", "RYC01", f"r{n}",
                       resources=[f"Flag/f{n}/_history/1"], patients=[f"p{n}"])


async def test_commits_do_not_checkpoint_the_background_does(migrated_url: str) -> None:
    path = str(make_url(migrated_url).database)
    db = Database(migrated_url)
    try:
        before = _in_main_file(path)
        for n in range(31):  # fewer than a checkpoint's worth of commits
            await db.append_audit([_record(n)])
        assert _in_main_file(path) == before  # every one of them is still only in the WAL
        await db.append_audit([_record(31)])  # the 32nd: a checkpoint starts beside it
        appender = db._audit_appender
        assert appender is not None and appender._checkpoints._running is not None
        await appender._checkpoints._running
        assert _in_main_file(path) == before + 32
    finally:
        await db.close()


async def test_write_units_of_work_leave_checkpoints_to_the_background(
        migrated_url: str) -> None:
    """A commit that ran the checkpoint itself cost a group of creates 4.1 ms instead of
    0.9 ms: the engine's connections do not checkpoint, the Database's checkpointer does,
    every 32 write commits (reads do not count)."""
    path = str(make_url(migrated_url).database)
    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            autocheckpoint = (await uow.connection.execute(
                text("PRAGMA wal_autocheckpoint"))).scalar()
        assert autocheckpoint == 0
        checkpoints = db._checkpoints
        assert checkpoints is not None and checkpoints._running is None
        counter = "SELECT n FROM change_counter"
        before = _in_main_file(path, counter)
        for _ in range(30):  # with the one above: 31 commits, fewer than a checkpoint's worth
            async with db.unit_of_work() as uow:
                await uow.connection.execute(text("UPDATE change_counter SET n = n + 1"))
            async with db.unit_of_work(write=False) as uow:
                await uow.connection.execute(text("SELECT n FROM change_counter"))
        assert checkpoints._running is None
        assert _in_main_file(path, counter) == before  # all of it still only in the WAL
        async with db.unit_of_work() as uow:  # the 32nd: a checkpoint starts beside it
            await uow.connection.execute(text("UPDATE change_counter SET n = n + 1"))
        assert checkpoints._running is not None
        await checkpoints._running
        assert _in_main_file(path, counter) == before + 31
    finally:
        await db.close()


class _SteadyReaders:
    """Threads reading the database without pause, as a busy server's requests do: each
    holds a snapshot for a few milliseconds, and they overlap, so some reader is always on
    a recent one."""

    def __init__(self, path: str, n: int = 2) -> None:
        self._path = path
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read) for _ in range(n)]

    def _read(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.is_set():
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM change_counter").fetchall()
                time.sleep(0.001)
                conn.execute("COMMIT")
        finally:
            conn.close()

    def __enter__(self) -> _SteadyReaders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def _many_refs(n: int) -> AuditRecord:
    """A $wishes-like record: a dozen references at random places in audit_ref's key order."""
    return AuditRecord("operation", 1_700_000_000_000_000 + n, 200, "crew", "RYC01", f"r{n}",
                       resources=[f"Flag/{uuid.uuid4()}/_history/1" for _ in range(12)],
                       patients=[f"p{n}"])


@pytest.mark.parametrize("restart_bytes", [256 << 10, None])
async def test_the_wal_stays_bounded_under_steady_reads(migrated_url: str,
                                                        restart_bytes: int | None) -> None:
    """With readers always on a recent snapshot SQLite never restarts the WAL by itself:
    PASSIVE checkpoints alone (``None``: the threshold out of reach) let it grow with every
    commit. The RESTART checkpoint past ``restart_bytes`` keeps it near that size."""
    path = str(make_url(migrated_url).database)
    db = Database(migrated_url)
    try:
        await db.append_audit([_many_refs(0)])
        appender = db._audit_appender
        assert appender is not None
        checkpoints = appender._checkpoints
        checkpoints._every = 8
        checkpoints._restart_bytes = restart_bytes or 1 << 40
        largest = 0
        with _SteadyReaders(path):
            for n in range(1, 400):
                await db.append_audit([_many_refs(n)])
                if checkpoints._running is not None:
                    await checkpoints._running
                largest = max(largest, os.path.getsize(path + "-wal"))
        if restart_bytes is None:
            assert checkpoints.restarts == 0
            assert largest > 4 << 20, largest  # the growth this guards against
        else:
            assert checkpoints.restarts > 0
            assert largest < 2 << 20, largest
    finally:
        await db.close()
