"""SQLite: the audit appender's commits leave WAL checkpoints to a background thread."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.engine import make_url

from eolc_fhir.storage.audit_repo import AuditRecord
from eolc_fhir.storage.database import Database

pytestmark = pytest.mark.engines("sqlite")


def _in_main_file(path: str) -> int:
    """Audit rows in the database file itself, the WAL ignored (what checkpoints copied)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM audit_log").fetchone()[0])
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
