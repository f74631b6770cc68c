"""Bulk Data Access `$export`: kick-off, the status URL (poll, cancel) and file downloads.

Authorization of the kick-off happened in the router's dependency (scope and
role for Patient and Group, and the Group's visibility); the service adds the
operation's role rule and read access to the types asked for. Every request is
audited as an ``operation`` (api/guard.py), naming the people it is about where
the service knows them; a download is streamed from disk after its audit record
is committed, never held in memory.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request
from starlette.responses import FileResponse, Response

from eolc_fhir.api.audit_notes import record_export
from eolc_fhir.api.deps import BaseUrl, Ctx, ResourceId
from eolc_fhir.api.docs import fhir_responses
from eolc_fhir.api.errors import error_response, outcome_response
from eolc_fhir.fhir.errors import Issue, error_for_status
from eolc_fhir.fhir.instant import to_http_date
from eolc_fhir.services.export import jobs
from eolc_fhir.services.export.kickoff import kick_off
from eolc_fhir.services.export.spec import GROUP, PATIENT, SYSTEM

__all__ = ["router", "NDJSON"]

router = APIRouter()
NDJSON = "application/fhir+ndjson"
_RETRY_SECONDS = "2"
OptHeader = Annotated[str | None, Header()]
JobId = Annotated[str, Path(max_length=64)]
_KICK_OFF = ("Asynchronous (send `Prefer: respond-async`): answers 202 with the status URL "
             "in Content-Location. Parameters: _outputFormat, _type, _since, _typeFilter.")


async def _kick_off(request: Request, ctx: Ctx, base: str, level: str,
                    group_id: str | None = None) -> Response:
    query = request.url.query
    url = f"{base}{request.url.path}" + (f"?{query}" if query else "")
    accepted = await kick_off(ctx, level, list(request.query_params.multi_items()),
                              prefer=request.headers.get("prefer", ""), base_url=base,
                              request_url=url, group_id=group_id)
    record_export(f"$export {query}".strip(), accepted.patients)
    issues = [Issue("information", "informational",
                    f"export accepted: poll {accepted.status_url}")]
    issues += [Issue("warning", "not-supported", text) for text in accepted.warnings]
    return outcome_response(202, issues, {"Content-Location": accepted.status_url})


@router.get("/$export", status_code=202, responses=fhir_responses(202),
            summary="System $export", description=_KICK_OFF)
async def export_system(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    return await _kick_off(request, ctx, base, SYSTEM)


@router.get("/Patient/$export", status_code=202, responses=fhir_responses(202),
            summary="Patient $export", description=_KICK_OFF)
async def export_patients(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    return await _kick_off(request, ctx, base, PATIENT)


@router.get("/Group/{resource_id}/$export", status_code=202, responses=fhir_responses(202),
            summary="Group $export", description=_KICK_OFF)
async def export_group(request: Request, ctx: Ctx, base: BaseUrl,
                       resource_id: ResourceId) -> Response:
    return await _kick_off(request, ctx, base, GROUP, resource_id)


@router.get("/_export/{job_id}", responses=fhir_responses(200, 202),
            summary="$export status", description="202 with X-Progress while the export "
            "runs; 200 with the manifest (application/json) when it is complete.")
async def export_status(ctx: Ctx, job_id: JobId) -> Response:
    record_export(f"$export status {job_id}")
    found = await jobs.status(ctx, job_id)
    if found.manifest is not None:
        headers = {"Expires": to_http_date(found.expires_us)} if found.expires_us else {}
        return Response(found.manifest, media_type="application/json", headers=headers)
    if found.error is not None:
        return error_response(error_for_status(500, found.error))
    return Response(status_code=202, headers={"X-Progress": found.progress or found.state,
                                              "Retry-After": _RETRY_SECONDS})


@router.delete("/_export/{job_id}", status_code=202, responses=fhir_responses(202),
               summary="Cancel $export", description="Cancels the job and removes its files.")
async def export_cancel(ctx: Ctx, job_id: JobId) -> Response:
    record_export(f"$export cancel {job_id}")
    await jobs.cancel(ctx, job_id)
    return outcome_response(202, [Issue("information", "informational",
                                        "the export was cancelled and its files removed")])


@router.get("/_export/{job_id}/{file_name}", responses=fhir_responses(200),
            summary="$export file", description="One NDJSON file of a completed export, "
            "for the client that asked for it.")
async def export_file(ctx: Ctx, job_id: JobId,
                      file_name: Annotated[str, Path(max_length=80)]) -> Response:
    record_export(f"$export file {job_id}/{file_name}")
    found = await jobs.download(ctx, job_id, file_name)
    record_export(f"$export file {job_id}/{file_name}", found.patients, stream=True)
    return FileResponse(found.path, media_type=NDJSON)
