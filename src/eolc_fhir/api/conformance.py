"""$validate, ValueSet/$expand, ValueSet/$validate-code and CodeSystem/$lookup."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.deps import Ctx, ResourceId, ResourceType
from eolc_fhir.api.docs import fhir_body, fhir_responses
from eolc_fhir.api.responses import bundle_response
from eolc_fhir.services import conformance
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.intake import read_body

__all__ = ["router"]

router = APIRouter()


async def _params(request: Request, ctx: ServerContext) -> dict[str, str]:
    """Query parameters, plus those of a Parameters body on POST."""
    params = dict(request.query_params)
    if request.method == "POST":
        body = await request.body()
        if body:
            parsed = read_body(ctx, body, "Parameters")
            for p in parsed.get("parameter") or []:
                value = next((v for k, v in p.items() if k.startswith("value")), None)
                if isinstance(value, str):
                    params[p.get("name", "")] = value
    return params


def _json(request: Request, resource: dict[str, Any]) -> Response:
    return bundle_response(request, orjson.dumps(resource))


@router.post("/{resource_type}/$validate", openapi_extra=fhir_body(),
             responses=fhir_responses(200), summary="$validate")
async def validate_type(request: Request, ctx: Ctx, resource_type: ResourceType) -> Response:
    outcome = await conformance.validate_operation(
        ctx, resource_type, await request.body(), profile=request.query_params.get("profile"))
    return _json(request, outcome)


@router.post("/{resource_type}/{resource_id}/$validate", openapi_extra=fhir_body(),
             responses=fhir_responses(200), summary="$validate")
async def validate_instance(request: Request, ctx: Ctx, resource_type: ResourceType,
                            resource_id: ResourceId) -> Response:
    outcome = await conformance.validate_operation(
        ctx, resource_type, await request.body(), resource_id,
        profile=request.query_params.get("profile"))
    return _json(request, outcome)


@router.get("/ValueSet/$expand", summary="$expand", responses=fhir_responses(200))
@router.post("/ValueSet/$expand", summary="$expand", responses=fhir_responses(200))
async def expand(request: Request, ctx: Ctx) -> Response:
    return _json(request, await conformance.expand(ctx, await _params(request, ctx)))


@router.get("/ValueSet/{resource_id}/$expand", summary="$expand", responses=fhir_responses(200))
@router.post("/ValueSet/{resource_id}/$expand", summary="$expand", responses=fhir_responses(200))
async def expand_instance(request: Request, ctx: Ctx, resource_id: ResourceId) -> Response:
    return _json(request, await conformance.expand(ctx, await _params(request, ctx), resource_id))


@router.get("/ValueSet/$validate-code", summary="$validate-code", responses=fhir_responses(200))
@router.post("/ValueSet/$validate-code", summary="$validate-code", responses=fhir_responses(200))
async def validate_code(request: Request, ctx: Ctx) -> Response:
    return _json(request, await conformance.validate_code(ctx, await _params(request, ctx)))


_VC_PATH, _VC_DOC = "/ValueSet/{resource_id}/$validate-code", fhir_responses(200)


@router.get(_VC_PATH, summary="$validate-code", responses=_VC_DOC)
@router.post(_VC_PATH, summary="$validate-code", responses=_VC_DOC)
async def validate_code_instance(request: Request, ctx: Ctx,
                                 resource_id: ResourceId) -> Response:
    params = await _params(request, ctx)
    return _json(request, await conformance.validate_code(ctx, params, resource_id))


@router.get("/CodeSystem/$lookup", summary="$lookup", responses=fhir_responses(200))
@router.post("/CodeSystem/$lookup", summary="$lookup", responses=fhir_responses(200))
async def lookup(request: Request, ctx: Ctx) -> Response:
    return _json(request, await conformance.lookup(ctx, await _params(request, ctx)))
