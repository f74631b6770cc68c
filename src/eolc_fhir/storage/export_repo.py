"""The narrow door to the export job table: add, read, lease, finish, cancel, expire.

Never commits (the caller's unit of work does). A lease is a compare-and-set on
``locked_by`` / ``locked_until_us``: every change a runner makes names itself as
the owner and succeeds only while it still holds the job, so a runner that lost
its job (cancelled, or claimed by another process after its lease ran out)
learns it at its next step and stops. On PostgreSQL the claim skips rows
another process is claiming at that moment (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage.export_tables import export_jobs as ej

__all__ = ["ExportJob", "ExportJobRepository", "ACCEPTED", "RUNNING", "COMPLETED", "FAILED"]

ACCEPTED, RUNNING, COMPLETED, FAILED = "accepted", "running", "completed", "failed"
_PENDING = (ACCEPTED, RUNNING)


@dataclass
class ExportJob:
    """One row of ``export_jobs`` (see storage/export_tables.py)."""

    job_id: str
    client_id: str
    status: str
    request: str
    spec: str
    created_us: int
    transaction_us: int | None = None
    progress: str | None = None
    attempts: int = 0
    locked_by: str | None = None
    locked_until_us: int = 0
    manifest: str | None = None
    error: str | None = None
    expires_us: int | None = None


def _job(row: Any) -> ExportJob:
    return ExportJob(**dict(row._mapping))


class ExportJobRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def add(self, job: ExportJob) -> None:
        await self.conn.execute(insert(ej).values(**job.__dict__))

    async def get(self, job_id: str) -> ExportJob | None:
        row = (await self.conn.execute(select(ej).where(ej.c.job_id == job_id))).first()
        return _job(row) if row is not None else None

    async def claim(self, owner: str, now_us: int, lease_us: int) -> ExportJob | None:
        """Lease the oldest job that waits, or whose runner's lease ran out; None if none."""
        stmt = (select(ej.c.job_id).where(ej.c.status.in_(_PENDING),
                                          ej.c.locked_until_us < now_us)
                .order_by(ej.c.created_us).limit(1))
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        job_id = (await self.conn.execute(stmt)).scalar()
        if job_id is None:
            return None
        done = await self.conn.execute(
            update(ej).where(ej.c.job_id == job_id, ej.c.status.in_(_PENDING),
                             ej.c.locked_until_us < now_us)
            .values(status=RUNNING, locked_by=owner, locked_until_us=now_us + lease_us,
                    attempts=ej.c.attempts + 1, transaction_us=None, progress=None))
        if done.rowcount != 1:  # SQLite has no row locks: another claim won (not here)
            return None
        return await self.get(job_id)

    def _held(self, job_id: str, owner: str) -> Any:
        return and_(ej.c.job_id == job_id, ej.c.locked_by == owner, ej.c.status == RUNNING)

    async def renew(self, job_id: str, owner: str, until_us: int, *,
                    progress: str | None = None, transaction_us: int | None = None) -> bool:
        """Extend the lease (and note progress); False when the job is no longer ours."""
        values: dict[str, Any] = {"locked_until_us": until_us}
        if progress is not None:
            values["progress"] = progress
        if transaction_us is not None:
            values["transaction_us"] = transaction_us
        done = await self.conn.execute(update(ej).where(self._held(job_id, owner)).values(**values))
        return bool(done.rowcount == 1)

    async def complete(self, job_id: str, owner: str, manifest: str, expires_us: int) -> bool:
        done = await self.conn.execute(
            update(ej).where(self._held(job_id, owner))
            .values(status=COMPLETED, manifest=manifest, expires_us=expires_us,
                    locked_by=None, locked_until_us=0, progress=None))
        return bool(done.rowcount == 1)

    async def fail(self, job_id: str, owner: str | None, error: str, expires_us: int) -> bool:
        """Mark the job failed (``owner`` None: whoever holds it)."""
        where = self._held(job_id, owner) if owner is not None else and_(
            ej.c.job_id == job_id, ej.c.status.in_(_PENDING))
        done = await self.conn.execute(
            update(ej).where(where).values(status=FAILED, error=error[:2000],
                                           expires_us=expires_us, locked_by=None,
                                           locked_until_us=0))
        return bool(done.rowcount == 1)

    async def release(self, job_id: str, owner: str) -> None:
        """Give the job back unfinished (this process stops): another may claim it now."""
        await self.conn.execute(update(ej).where(self._held(job_id, owner))
                                .values(locked_by=None, locked_until_us=0))

    async def remove(self, job_id: str) -> bool:
        done = await self.conn.execute(delete(ej).where(ej.c.job_id == job_id))
        return bool(done.rowcount == 1)

    async def expired(self, now_us: int, limit: int = 100) -> list[str]:
        """Finished jobs whose files' time is up."""
        stmt = (select(ej.c.job_id).where(ej.c.expires_us.is_not(None), ej.c.expires_us < now_us)
                .order_by(ej.c.expires_us).limit(limit))
        return [row[0] for row in await self.conn.execute(stmt)]

    async def pending_count(self, client_id: str) -> int:
        """Jobs of this client that have not finished (a bound on concurrent exports)."""
        rows = await self.conn.execute(select(ej.c.job_id).where(
            ej.c.client_id == client_id, ej.c.status.in_(_PENDING)))
        return len(rows.all())
