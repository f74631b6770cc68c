"""Search endpoints: GET /[type], POST /[type]/_search, GET /?_type=... (system search)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.deps import BaseUrl, Ctx, ResourceType
from eolc_fhir.api.docs import fhir_responses
from eolc_fhir.api.responses import bundle_response, wants_lenient
from eolc_fhir.fhir.errors import UnsupportedMediaType
from eolc_fhir.services.search import query as search

__all__ = ["router"]

router = APIRouter()
_FORM = "application/x-www-form-urlencoded"


def _lenient(request: Request) -> bool:
    return wants_lenient(request.headers.get("prefer", ""))


@router.get("/", responses=fhir_responses(200), summary="search-system")
async def search_system(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    body = await search.search_system(ctx, list(request.query_params.multi_items()),
                                      lenient=_lenient(request), base_url=base)
    return bundle_response(request, body)


@router.get("/{resource_type}", responses=fhir_responses(200), summary="search-type")
async def search_type(request: Request, ctx: Ctx, base: BaseUrl,
                      resource_type: ResourceType) -> Response:
    body = await search.search_type(ctx, resource_type, list(request.query_params.multi_items()),
                                    lenient=_lenient(request), base_url=base)
    return bundle_response(request, body)


@router.post("/{resource_type}/_search", responses=fhir_responses(200),
             summary="search-type (form body)")
async def search_post(request: Request, ctx: Ctx, base: BaseUrl,
                      resource_type: ResourceType) -> Response:
    media = request.headers.get("content-type", _FORM).split(";")[0].strip().lower()
    if media != _FORM:
        raise UnsupportedMediaType(f"POST _search takes {_FORM}, not {media}")
    body = (await request.body()).decode("utf-8", errors="replace")
    # Parameters in the URL and in the body both count (FHIR R4 §3.1.1.1.2).
    params = list(request.query_params.multi_items()) + parse_qsl(body, keep_blank_values=True)
    result = await search.search_type(ctx, resource_type, params, lenient=_lenient(request),
                                      base_url=base)
    return bundle_response(request, result)
