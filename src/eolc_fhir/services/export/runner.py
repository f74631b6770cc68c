"""The export runner: a background task of the server (lifespan) that runs export jobs.

It leases the oldest waiting job (or one whose runner stopped renewing its
lease: a process that died), writes its files from a fresh start, renews the
lease as it goes, and marks the job completed with its manifest in one
transaction once every file is closed: a poll never sees half a manifest. A job
cancelled meanwhile (its row removed) or taken over by another process stops at
its next batch and its folder is removed. Stopping the server gives the lease
back, so the next start (or another process) runs the job again at once. A job
interrupted ``MAX_ATTEMPTS`` times fails cleanly. Every poll it also removes the
jobs (and files) whose retention ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import socket
import time
import uuid
from pathlib import Path

from eolc_fhir.fhir.errors import FhirError
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.export.jobs import expires_at, job_folder, manifest_of, remove_folder
from eolc_fhir.services.export.spec import ExportSpec
from eolc_fhir.services.export.writer import write_files
from eolc_fhir.storage.export_repo import ExportJob

__all__ = ["ExportRunner", "MAX_ATTEMPTS"]

log = logging.getLogger("eolc_fhir.export")
MAX_ATTEMPTS = 3
_JOB_FOLDER = re.compile(r"^[0-9a-f]{32}$")


class _Lost(Exception):
    """The job is no longer ours: cancelled, or claimed by another process."""


class ExportRunner:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.owner = f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._cancelled: set[str] = set()
        self.finished = 0  # jobs completed by this runner (tests, logs)

    @property
    def _lease_us(self) -> int:
        return int(self.ctx.settings.export_lease_seconds * 1_000_000)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="eolc-export")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        self._wake.set()

    def cancelled(self, job_id: str) -> None:
        """A job removed by DELETE: if it runs here, stop it at its next batch."""
        self._cancelled.add(job_id)

    async def _loop(self) -> None:
        await self._remove_orphans()
        while True:
            self._wake.clear()
            try:
                await self.sweep()
                while (job := await self._claim()) is not None:
                    await self._run(job)
            except FhirError as exc:  # the database is unavailable: try again later
                log.warning("export runner: %s", type(exc).__name__)
            except Exception as exc:  # never let the task die; the log has the kind
                log.error("export runner failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.ctx.settings.export_poll_seconds)

    async def _claim(self) -> ExportJob | None:
        async with self.ctx.db.unit_of_work() as uow:
            return await uow.exports.claim(self.owner, now_us(), self._lease_us)

    async def _run(self, job: ExportJob) -> None:
        folder = job_folder(self.ctx, job.job_id)
        await remove_folder(folder)  # an earlier, interrupted attempt's files
        if job.attempts > MAX_ATTEMPTS:
            await self._fail(job, f"the export was interrupted {MAX_ATTEMPTS} times; "
                             "kick it off again")
            return
        try:
            await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
            manifest = await self._write(job, folder)
            async with self.ctx.db.unit_of_work() as uow:
                if not await uow.exports.complete(job.job_id, self.owner, manifest,
                                                  expires_at(self.ctx)):
                    raise _Lost
            self.finished += 1
            log.info("export %s completed", job.job_id)
        except asyncio.CancelledError:  # the server stops: another start runs it again
            with contextlib.suppress(Exception):
                async with self.ctx.db.unit_of_work() as uow:
                    await uow.exports.release(job.job_id, self.owner)
            raise
        except _Lost:
            await remove_folder(folder)
        except Exception as exc:
            log.error("export %s failed: %s", job.job_id, type(exc).__name__)
            await self._fail(job, f"the export failed ({type(exc).__name__}); kick it off "
                             "again, and tell the operator if it fails again")
        finally:
            self._cancelled.discard(job.job_id)

    async def _write(self, job: ExportJob, folder: Path) -> str:
        spec = ExportSpec.loads(job.spec)
        renewed = time.monotonic()

        async def checkpoint(progress: str) -> None:
            nonlocal renewed
            if job.job_id in self._cancelled:
                raise _Lost
            if time.monotonic() - renewed < self.ctx.settings.export_lease_seconds / 4:
                return
            renewed = time.monotonic()
            async with self.ctx.db.unit_of_work() as uow:
                if not await uow.exports.renew(job.job_id, self.owner,
                                               now_us() + self._lease_us, progress=progress):
                    raise _Lost

        async with self.ctx.db.export_snapshot() as snap:
            transaction_us = now_us()
            written = await write_files(self.ctx, spec, folder, snap, checkpoint)
        return manifest_of(job, spec.base_url, transaction_us, written.output, written.errors,
                           requires_token=not self.ctx.settings.insecure_dev)

    async def _fail(self, job: ExportJob, error: str) -> None:
        await remove_folder(job_folder(self.ctx, job.job_id))
        async with self.ctx.db.unit_of_work() as uow:
            await uow.exports.fail(job.job_id, self.owner, error, expires_at(self.ctx))

    async def sweep(self) -> int:
        """Remove the jobs, and their files, whose retention ran out; how many."""
        async with self.ctx.db.unit_of_work(write=False) as uow:
            expired = await uow.exports.expired(now_us())
        for job_id in expired:
            async with self.ctx.db.unit_of_work() as uow:
                await uow.exports.remove(job_id)
            await remove_folder(job_folder(self.ctx, job_id))
        return len(expired)

    async def _remove_orphans(self) -> None:
        """Folders of jobs that no longer exist (removed while this process was down)."""
        root = Path(self.ctx.settings.export_dir)
        if not root.is_dir():
            return
        for folder in root.iterdir():
            if not folder.is_dir() or not _JOB_FOLDER.match(folder.name):
                continue  # only what this server made: the folder may hold other things
            async with self.ctx.db.unit_of_work(write=False) as uow:
                known = await uow.exports.get(folder.name)
            if known is None:
                await remove_folder(folder)
