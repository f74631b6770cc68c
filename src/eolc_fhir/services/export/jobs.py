"""The status URL (poll, cancel) and the file downloads of an export, for its owner only.

A job belongs to the client that kicked it off: another client is told that
nothing is there (404), whichever job id it tries. Files are named only once
the job completed and only as its manifest lists them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from eolc_fhir.fhir.errors import NotFound
from eolc_fhir.fhir.instant import now_us, to_instant
from eolc_fhir.security.principal import current_principal
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.export.kickoff import STATUS_PATH
from eolc_fhir.storage.export_repo import COMPLETED, FAILED, ExportJob

__all__ = ["JobStatus", "Download", "status", "cancel", "download", "job_folder",
           "remove_folder", "manifest_of", "AUDIT_PATIENTS"]

_FILE_NAME = re.compile(r"^[A-Za-z]{1,64}-[0-9]{1,6}\.ndjson$")
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
AUDIT_PATIENTS = 10_000  # people named in one download's audit record, at most


@dataclass
class JobStatus:
    state: str  # accepted | running | completed | failed
    progress: str | None = None
    manifest: bytes | None = None
    error: str | None = None
    expires_us: int | None = None


@dataclass
class Download:
    path: Path
    patients: list[str] = field(default_factory=list)


def job_folder(ctx: ServerContext, job_id: str) -> Path:
    return Path(ctx.settings.export_dir) / job_id


async def remove_folder(folder: Path) -> None:
    await asyncio.to_thread(shutil.rmtree, folder, True)


async def _owned(ctx: ServerContext, job_id: str) -> ExportJob:
    job = None
    if _JOB_ID.match(job_id):
        async with ctx.db.unit_of_work(write=False) as uow:
            job = await uow.exports.get(job_id)
    principal = current_principal()
    if job is None or (principal is not None and job.client_id != principal.client_id):
        raise NotFound(f"there is no export job '{job_id}' of this client (finished jobs are "
                       "removed with their files)")
    return job


async def status(ctx: ServerContext, job_id: str) -> JobStatus:
    job = await _owned(ctx, job_id)
    if job.status == COMPLETED:
        return JobStatus(job.status, manifest=(job.manifest or "").encode(),
                         expires_us=job.expires_us)
    if job.status == FAILED:
        return JobStatus(job.status, error=job.error)
    return JobStatus(job.status, progress=job.progress or (
        "waiting to start" if job.locked_by is None else "started"))


async def cancel(ctx: ServerContext, job_id: str) -> None:
    """Cancel a job (a running one stops at its next batch) and remove its files."""
    await _owned(ctx, job_id)
    async with ctx.db.unit_of_work() as uow:
        await uow.exports.remove(job_id)
    if ctx.exports is not None:
        ctx.exports.cancelled(job_id)
    await remove_folder(job_folder(ctx, job_id))


async def download(ctx: ServerContext, job_id: str, name: str) -> Download:
    job = await _owned(ctx, job_id)
    listed = job.status == COMPLETED and _FILE_NAME.match(name) and \
        f"{STATUS_PATH}/{job_id}/{name}\"" in (job.manifest or "")
    path = job_folder(ctx, job_id) / name
    if not listed or not path.is_file():
        raise NotFound(f"export job '{job_id}' has no file '{name}'")
    patients: list[str] = []
    ids = path.with_name(f"{name}.patients")
    if ids.is_file() and ids.stat().st_size < AUDIT_PATIENTS * 65:
        patients = (await asyncio.to_thread(ids.read_text)).split()[:AUDIT_PATIENTS]
    return Download(path, patients)


def manifest_of(job: ExportJob, base_url: str, transaction_us: int,
                output: list[tuple[str, str, int]], errors: list[tuple[str, str, int]], *,
                requires_token: bool = True) -> str:
    """The completion manifest (Bulk Data Access v2) of a job whose files are all written."""
    def entries(files: list[tuple[str, str, int]]) -> list[dict[str, object]]:
        return [{"type": rtype, "url": f"{base_url}{STATUS_PATH}/{job.job_id}/{name}",
                 "count": count} for rtype, name, count in files if count]

    return orjson.dumps({
        "transactionTime": to_instant(transaction_us), "request": job.request,
        "requiresAccessToken": requires_token, "output": entries(output),
        "error": entries(errors),
    }).decode()


def expires_at(ctx: ServerContext) -> int:
    return now_us() + int(ctx.settings.export_retention_seconds * 1_000_000)
