"""The FHIR RESTful interactions on instances, types and the system."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request
from starlette.responses import Response

from eolc_fhir.api.deps import BaseUrl, Ctx, ResourceId, ResourceType
from eolc_fhir.api.docs import fhir_body, fhir_responses, patch_body
from eolc_fhir.api.responses import bundle_response, prefer_return, resource_response
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.services.resources import crud, history
from eolc_fhir.services.resources import patch as patching
from eolc_fhir.services.resources.intake import read_body, read_bundle
from eolc_fhir.services.resources.transaction import process_bundle
from eolc_fhir.services.resources.writes import version_of_etag

__all__ = ["router", "early_router"]

# Literal paths that generic feature routes (GET /{type} search) must not capture.
early_router = APIRouter()
router = APIRouter()
OptHeader = Annotated[str | None, Header()]


@router.post("/", openapi_extra=fhir_body("A batch or transaction Bundle"),
             responses=fhir_responses(200), summary="batch / transaction")
async def batch_or_transaction(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    bundle, refused = read_bundle(ctx, await request.body())
    minimal = prefer_return(request) == "minimal"
    return bundle_response(request, await process_bundle(ctx, bundle, base_url=base,
                                                         minimal=minimal, base_check="done",
                                                         refused=refused))


@early_router.get("/_history", responses=fhir_responses(200), summary="history-system")
async def history_system(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    body = await history.history(ctx, list(request.query_params.multi_items()),
                                 base_url=base, path="_history")
    return bundle_response(request, body)


@early_router.get("/{resource_type}/_history", responses=fhir_responses(200),
                  summary="history-type")
async def history_type(request: Request, ctx: Ctx, base: BaseUrl,
                       resource_type: ResourceType) -> Response:
    body = await history.history(ctx, list(request.query_params.multi_items()), base_url=base,
                                 path=f"{resource_type}/_history", resource_type=resource_type)
    return bundle_response(request, body)


@router.post("/{resource_type}", status_code=201, openapi_extra=fhir_body(),
             responses=fhir_responses(200, 201), summary="create")
async def create(request: Request, ctx: Ctx, base: BaseUrl, resource_type: ResourceType,
                 if_none_exist: OptHeader = None) -> Response:
    resource = read_body(ctx, await request.body(), resource_type)
    result = await crud.create(ctx, resource, if_none_exist, base_check="done")
    return resource_response(request, result, base)


@router.put("/{resource_type}", openapi_extra=fhir_body(), responses=fhir_responses(200, 201),
            summary="conditional update")
async def conditional_update(request: Request, ctx: Ctx, base: BaseUrl,
                             resource_type: ResourceType, if_match: OptHeader = None) -> Response:
    query = request.url.query
    if not query:
        raise InvalidRequest("a conditional update needs search parameters in the URL")
    resource = read_body(ctx, await request.body(), resource_type)
    result = await crud.conditional_update(ctx, resource, query, if_match, base_check="done")
    return resource_response(request, result, base)


@router.delete("/{resource_type}", status_code=204, responses=fhir_responses(204),
               summary="conditional delete")
async def conditional_delete(request: Request, ctx: Ctx, resource_type: ResourceType) -> Response:
    query = request.url.query
    if not query:
        raise InvalidRequest("a conditional delete needs search parameters in the URL")
    await crud.conditional_delete(ctx, resource_type, query)
    return Response(status_code=204)


@router.get("/{resource_type}/{resource_id}", responses=fhir_responses(200, 304), summary="read")
async def read(request: Request, ctx: Ctx, base: BaseUrl, resource_type: ResourceType,
               resource_id: ResourceId, if_none_match: OptHeader = None) -> Response:
    result = await crud.read(ctx, resource_type, resource_id)
    current = str(result.stored.version) if result.stored else None
    if if_none_match is not None and version_of_etag(if_none_match) == current:
        return Response(status_code=304, headers={"ETag": result.etag or ""})
    return resource_response(request, result, base)


@router.put("/{resource_type}/{resource_id}", openapi_extra=fhir_body(),
            responses=fhir_responses(200, 201), summary="update")
async def update(request: Request, ctx: Ctx, base: BaseUrl, resource_type: ResourceType,
                 resource_id: ResourceId, if_match: OptHeader = None) -> Response:
    resource = read_body(ctx, await request.body(), resource_type)
    if "id" not in resource:
        raise InvalidRequest("the resource must carry the id of the URL", code="required",
                             expression=f"{resource_type}.id")
    result = await crud.update(ctx, resource, resource_id, if_match, base_check="done")
    return resource_response(request, result, base)


@router.delete("/{resource_type}/{resource_id}", status_code=204,
               responses=fhir_responses(204), summary="delete")
async def delete(ctx: Ctx, resource_type: ResourceType, resource_id: ResourceId,
                 if_match: OptHeader = None) -> Response:
    result = await crud.delete(ctx, resource_type, resource_id, if_match)
    headers = {"ETag": result.etag} if result.etag else {}
    return Response(status_code=204, headers=headers)


@router.get("/{resource_type}/{resource_id}/_history", responses=fhir_responses(200),
            summary="history-instance")
async def history_instance(request: Request, ctx: Ctx, base: BaseUrl,
                           resource_type: ResourceType, resource_id: ResourceId) -> Response:
    body = await history.history(
        ctx, list(request.query_params.multi_items()), base_url=base,
        path=f"{resource_type}/{resource_id}/_history", resource_type=resource_type,
        resource_id=resource_id,
    )
    return bundle_response(request, body)


@router.get("/{resource_type}/{resource_id}/_history/{version_id}",
            responses=fhir_responses(200), summary="vread")
async def vread(request: Request, ctx: Ctx, base: BaseUrl, resource_type: ResourceType,
                resource_id: ResourceId, version_id: str) -> Response:
    result = await crud.vread(ctx, resource_type, resource_id, version_id)
    return resource_response(request, result, base)



@router.patch("/{resource_type}", openapi_extra=patch_body(), responses=fhir_responses(200),
              summary="conditional patch")
async def conditional_patch(request: Request, ctx: Ctx, base: BaseUrl,
                            resource_type: ResourceType, if_match: OptHeader = None) -> Response:
    query = request.url.query
    if not query:
        raise InvalidRequest("a conditional patch needs search parameters in the URL")
    document = patching.read_patch(ctx, await request.body(),
                                   request.headers.get("content-type", ""))
    result = await patching.conditional_patch(ctx, resource_type, query, document, if_match)
    return resource_response(request, result, base)


@router.patch("/{resource_type}/{resource_id}", openapi_extra=patch_body(),
              responses=fhir_responses(200), summary="patch")
async def patch(request: Request, ctx: Ctx, base: BaseUrl, resource_type: ResourceType,
                resource_id: ResourceId, if_match: OptHeader = None) -> Response:
    document = patching.read_patch(ctx, await request.body(),
                                   request.headers.get("content-type", ""))
    result = await patching.patch(ctx, resource_type, resource_id, document, if_match)
    return resource_response(request, result, base)
