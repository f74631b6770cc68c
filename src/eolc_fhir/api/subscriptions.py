"""Subscription operations of the Backport IG: $status and $events."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.deps import BaseUrl, Ctx, ResourceId
from eolc_fhir.api.docs import fhir_responses
from eolc_fhir.api.responses import bundle_response
from eolc_fhir.services.subscriptions.status import subscription_events, subscription_status

__all__ = ["router"]

router = APIRouter()


@router.get("/Subscription/$status", responses=fhir_responses(200),
            summary="status of subscriptions (Backport IG $status)")
async def status_all(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    ids = [v for k, v in request.query_params.multi_items() if k in ("id", "_id")]
    wanted = [i for v in ids for i in v.split(",") if i] or None
    return bundle_response(request, await subscription_status(ctx, base, ids=wanted))


@router.get("/Subscription/{resource_id}/$status", responses=fhir_responses(200),
            summary="status of one subscription (Backport IG $status)")
async def status_one(request: Request, ctx: Ctx, base: BaseUrl,
                     resource_id: ResourceId) -> Response:
    return bundle_response(request, await subscription_status(ctx, base, sub_id=resource_id))


@router.get("/Subscription/{resource_id}/$events", responses=fhir_responses(200),
            summary="replay stored events (Backport IG $events)")
async def events(request: Request, ctx: Ctx, base: BaseUrl, resource_id: ResourceId) -> Response:
    query = dict(request.query_params.items())
    return bundle_response(request, await subscription_events(ctx, base, resource_id, query))
