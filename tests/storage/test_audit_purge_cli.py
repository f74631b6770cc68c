"""``eolc-fhir audit purge`` removes the audit records older than the retention period."""

from __future__ import annotations

import asyncio

import pytest

from eolc_fhir.cli import main
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.security.audit import AuditRecord
from eolc_fhir.storage.database import Database

pytestmark = pytest.mark.usefixtures("engine_name")
DAY_US = 86_400_000_000


def _run_on(url: str, work: object) -> object:
    async def run() -> object:
        db = Database(url)
        try:
            return await work(db)  # type: ignore[operator]
        finally:
            await db.close()

    return asyncio.run(run())


def test_audit_purge_removes_what_is_older_than_the_retention(
        migrated_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    now = now_us()

    async def fill(db: Database) -> None:
        async with db.unit_of_work() as uow:
            await uow.audit.append([
                AuditRecord("read", now - days * DAY_US, 200, "c", "Y01", f"r{days}",
                            patients=["p"]) for days in (1, 10, 100, 1000)])

    async def left(db: Database) -> list[str]:
        async with db.unit_of_work(write=False) as uow:
            found = await uow.audit.by_request(["r1", "r10", "r100", "r1000"])
        return sorted(r.request_id for r in found)

    _run_on(migrated_url, fill)
    assert main(["audit", "purge", "--days", "50", "--database-url", migrated_url]) == 0
    assert "removed 2 audit records older than 50 days" in capsys.readouterr().out
    assert _run_on(migrated_url, left) == ["r1", "r10"]
