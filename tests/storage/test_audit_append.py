"""SQLite: the audit append commits on the event loop when it can, and never makes the loop
wait for another process's write lock."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from sqlalchemy.engine import make_url

from eolc_fhir.storage import audit_append
from eolc_fhir.storage.audit_repo import AuditRecord
from eolc_fhir.storage.database import Database

pytestmark = pytest.mark.engines("sqlite")


def _record(n: int) -> AuditRecord:
    return AuditRecord("read", 1_700_000_000_000_000 + n, 200, "crew", "RYC01", f"a{n}",
                       resources=[f"Flag/f{n}/_history/1"], patients=[f"p{n}"])


def _stored(path: str) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT l.request_id, r.ref FROM audit_log l JOIN audit_ref r ON r.audit_id = l.id "
            "WHERE l.request_id LIKE 'a%' ORDER BY l.id, r.ref")]
    finally:
        conn.close()


def _threads_used(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    calls: list[object] = []
    real = asyncio.to_thread

    async def counting(func, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(func)
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(audit_append.asyncio, "to_thread", counting)
    return calls


async def test_an_uncontended_append_commits_on_the_loop(migrated_url: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(migrated_url)
    try:
        await db.append_audit([_record(0)])  # the appender and its connection exist now
        appender = db._audit_appender
        assert appender is not None
        appends = _threads_used(monkeypatch)
        records = [_record(n) for n in range(1, 4)]
        await db.append_audit(records)
        assert appends == []  # no worker thread: the commit ran on the event loop
        assert all(r.id is not None for r in records)
        assert _stored(str(make_url(migrated_url).database)) == [
            (f"a{n}", ref) for n in range(4) for ref in (f"Flag/f{n}", f"Patient/p{n}")]
    finally:
        await db.close()


async def test_another_process_holding_the_write_lock_is_waited_for_off_the_loop(
        migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The attempt on the loop gives up at once (nothing half-written) and the same records
    are committed from a worker thread once the other writer is done, while the loop keeps
    serving."""
    path = str(make_url(migrated_url).database)
    db = Database(migrated_url)
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        appends = _threads_used(monkeypatch)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, as SQLite sees it
        release = threading.Timer(0.5, lambda: other.execute("COMMIT"))
        records = [_record(n) for n in range(2)]
        started = time.perf_counter()
        append = asyncio.ensure_future(db.append_audit(records))
        ticks = 0
        while not append.done():  # the loop is free while the append waits
            await asyncio.sleep(0.01)
            ticks += 1
            if ticks == 1:
                release.start()
        await append
        waited = time.perf_counter() - started
        assert len(appends) == 1  # the second attempt, in a worker thread
        assert waited >= 0.45 and ticks >= 20
        assert [r.id is not None for r in records] == [True, True]
        assert _stored(path) == [(f"a{n}", ref) for n in range(2)
                                 for ref in (f"Flag/f{n}", f"Patient/p{n}")]
    finally:
        other.close()
        await db.close()
