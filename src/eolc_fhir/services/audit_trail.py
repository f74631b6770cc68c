"""The audit trail's writer and its retention: durable records at the cost of a shared commit.

``AuditTrail.write(record)`` returns once the record is committed. Concurrent
requests share commits (``GroupCommit``): one flusher task writes everything
queued while the previous commit ran in one multi-row INSERT and one COMMIT,
so a lone request waits for one small transaction and a busy server spends
one transaction on many requests. A commit that fails fails every request in
its group (the middleware answers them 503: never an unaudited answer).

``purge_expired`` removes records older than ``audit_retention_days`` in
batches (one short transaction each); ``AuditTrail`` runs it every
``audit_purge_interval_seconds`` and ``eolc-fhir audit purge`` runs it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from eolc_fhir.config import Settings
from eolc_fhir.fhir.instant import DAY_US, now_us
from eolc_fhir.security.audit import AuditRecord
from eolc_fhir.services.subscriptions.group_commit import GroupCommit
from eolc_fhir.storage.database import Database

__all__ = ["AuditTrail", "purge_expired"]

log = logging.getLogger("eolc_fhir.security")
_MAX_GROUP = 500  # records per commit: a bound on one transaction's size


class AuditTrail:
    """One per process (the lifespan starts and stops it); see the module docstring."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._group: GroupCommit[AuditRecord, None] = GroupCommit(self._commit,
                                                                  max_group=_MAX_GROUP)
        self._purger: asyncio.Task[None] | None = None

    @property
    def commits(self) -> int:
        """Group commits so far (tests, logs)."""
        return self._group.groups

    def start(self) -> None:
        self._group.start()
        if self.settings.audit_retention_days > 0 and \
                self.settings.audit_purge_interval_seconds > 0:
            self._purger = asyncio.create_task(self._purge_loop(), name="eolc-audit-purge")

    async def stop(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
            self._purger = None
        await self._group.stop()

    async def write(self, record: AuditRecord) -> None:
        await self._group.submit(record)

    async def _commit(self, records: Sequence[AuditRecord]) -> list[None]:
        await self.db.append_audit(records)  # one short transaction on the leanest path
        return [None] * len(records)

    async def _purge_loop(self) -> None:
        while True:
            try:
                removed = await purge_expired(self.db, self.settings.audit_retention_days)
                if removed:
                    log.info("audit retention: removed %d records", removed)
            except Exception as exc:  # try again next time; the log only grows meanwhile
                log.error("audit retention purge failed: %s", type(exc).__name__)
            await asyncio.sleep(self.settings.audit_purge_interval_seconds)


async def purge_expired(db: Database, retention_days: float, *, batch: int = 5000,
                        now: int | None = None) -> int:
    """Remove the records older than ``retention_days`` (none when it is 0 or less), a batch
    per transaction; how many were removed."""
    if retention_days <= 0:
        return 0
    before = (now if now is not None else now_us()) - int(retention_days * DAY_US)
    removed = 0
    while True:
        async with db.unit_of_work(write=True) as uow:
            done = await uow.audit.purge(before, batch=batch)
        removed += done
        if done < batch:
            return removed
        await asyncio.sleep(0)  # let requests (and their audit commits) in between batches
