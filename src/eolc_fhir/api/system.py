"""/metadata, /healthz and /readyz."""

from __future__ import annotations

import uuid

import orjson
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from eolc_fhir.api.deps import BaseUrl, Ctx
from eolc_fhir.api.docs import fhir_responses
from eolc_fhir.api.errors import error_response
from eolc_fhir.api.responses import bundle_response
from eolc_fhir.fhir.errors import ServiceUnavailable
from eolc_fhir.services.capability import capability_statement
from eolc_fhir.services.health import readiness

__all__ = ["router"]

router = APIRouter()
# Which process answered (with `serve --workers N`): a random name, not the pid.
PROCESS_NAME = uuid.uuid4().hex[:12]


@router.get("/metadata", responses=fhir_responses(200), summary="capabilities")
async def metadata(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    return bundle_response(request, orjson.dumps(capability_statement(ctx, base)))


@router.get("/healthz", summary="liveness")
async def healthz() -> Response:
    return JSONResponse({"status": "ok", "process": PROCESS_NAME})


@router.get("/readyz", summary="readiness: database reachable and migrations current")
async def readyz(ctx: Ctx) -> Response:
    ready, detail = await readiness(ctx)
    if not ready:
        return error_response(ServiceUnavailable(detail))
    return JSONResponse({"status": "ready", "detail": detail})
