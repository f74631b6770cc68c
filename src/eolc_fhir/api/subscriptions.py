"""Subscription operations of the Backport IG: $status, $events and $get-ws-binding-token."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from eolc_fhir.api.audit_notes import record_query
from eolc_fhir.api.deps import BaseUrl, Ctx, ResourceId
from eolc_fhir.api.docs import fhir_responses
from eolc_fhir.api.responses import bundle_response
from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.fhir.ids import is_valid_id
from eolc_fhir.security import current_principal
from eolc_fhir.services.subscriptions.status import subscription_events, subscription_status
from eolc_fhir.services.subscriptions.ws_tokens import get_ws_binding_token

__all__ = ["router"]

router = APIRouter()


_STATUS_FILTER = Query(description="only Subscriptions with one of these statuses "
                       "(requested, active, error, off; repeated or comma-separated)")


@router.get("/Subscription/$status", responses=fhir_responses(200),
            summary="status of subscriptions (Backport IG $status), with the server's "
                    "delivery-state extension")
async def status_all(request: Request, ctx: Ctx, base: BaseUrl,
                     status: Annotated[list[str] | None, _STATUS_FILTER] = None) -> Response:
    ids = [v for k, v in request.query_params.multi_items() if k in ("id", "_id")]
    wanted = [i for v in ids for i in v.split(",") if i] or None
    statuses = [c for v in status or () for c in v.split(",") if c] or None
    record_query(f"$status {request.url.query}".strip())
    return bundle_response(request, await subscription_status(ctx, base, ids=wanted,
                                                              statuses=statuses))


@router.get("/Subscription/{resource_id}/$status", responses=fhir_responses(200),
            summary="status of one subscription (Backport IG $status)")
async def status_one(request: Request, ctx: Ctx, base: BaseUrl,
                     resource_id: ResourceId) -> Response:
    record_query("$status")
    return bundle_response(request, await subscription_status(ctx, base, sub_id=resource_id))


@router.get("/Subscription/{resource_id}/$events", responses=fhir_responses(200),
            summary="replay stored events (Backport IG $events)")
async def events(request: Request, ctx: Ctx, base: BaseUrl, resource_id: ResourceId) -> Response:
    query = dict(request.query_params.items())
    return bundle_response(request, await subscription_events(ctx, base, resource_id, query))


async def _ids(request: Request) -> list[str]:
    """``id`` from the query (repeated or comma-separated) and from a POSTed Parameters."""
    found = [i for k, v in request.query_params.multi_items() if k == "id"
             for i in v.split(",") if i]
    body = await request.body() if request.method == "POST" else b""
    if body.strip():
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InvalidRequest("the body must be a Parameters resource") from None
        if not isinstance(params, dict) or params.get("resourceType") != "Parameters":
            raise InvalidRequest("the body must be a Parameters resource")
        for p in params.get("parameter") or []:
            if isinstance(p, dict) and p.get("name") == "id":
                found.append(str(p.get("valueId", p.get("valueString", ""))))
    for value in found:
        if not is_valid_id(value):
            raise InvalidRequest(f"'{value}' is not a valid Subscription id", expression="id")
    return found


_WS_SUMMARY = "a token to bind websockets to Subscriptions (Backport IG $get-ws-binding-token)"


@router.get("/Subscription/$get-ws-binding-token", responses=fhir_responses(200),
            summary=_WS_SUMMARY)
async def ws_binding_token_type(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    ids = await _ids(request)
    body = await get_ws_binding_token(ctx, base, current_principal(), ids or None)
    return bundle_response(request, body)


@router.post("/Subscription/$get-ws-binding-token", responses=fhir_responses(200),
             summary=_WS_SUMMARY + ", ids in a Parameters body")
async def ws_binding_token_type_post(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    return await ws_binding_token_type(request, ctx, base)


@router.get("/Subscription/{resource_id}/$get-ws-binding-token",
            responses=fhir_responses(200), summary=_WS_SUMMARY)
async def ws_binding_token_one(request: Request, ctx: Ctx, base: BaseUrl,
                               resource_id: ResourceId) -> Response:
    body = await get_ws_binding_token(ctx, base, current_principal(), [resource_id])
    return bundle_response(request, body)


@router.post("/Subscription/{resource_id}/$get-ws-binding-token",
             responses=fhir_responses(200), summary=_WS_SUMMARY)
async def ws_binding_token_one_post(request: Request, ctx: Ctx, base: BaseUrl,
                                    resource_id: ResourceId) -> Response:
    return await ws_binding_token_one(request, ctx, base, resource_id)
