"""Patient operations: $wishes (the ambulance question) and $everything.

Matched before the generic /{type}/{id} routes. Each call goes through the
access check and the audit hooks of ``services.operation_hooks``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from eolc_fhir.api.deps import BaseUrl, Ctx, ResourceId
from eolc_fhir.api.docs import fhir_responses
from eolc_fhir.api.responses import REVALIDATE, bundle_response
from eolc_fhir.fhir.errors import FhirError
from eolc_fhir.security.principal import current_principal
from eolc_fhir.services import everything as everything_service
from eolc_fhir.services import operation_hooks as hooks
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.wishes import document as wishes_service

__all__ = ["router"]

router = APIRouter()
OptHeader = Annotated[str | None, Header()]


def _call(request: Request, operation: str, query: str = "",
          patient_id: str | None = None) -> hooks.OperationCall:
    principal = getattr(request.state, "principal", None) or current_principal()
    return hooks.OperationCall(operation, principal, [patient_id] if patient_id else [], query)


async def _wishes(ctx: ServerContext, call: hooks.OperationCall, request: Request,
                  answer_of: Callable[[], Awaitable[wishes_service.WishesAnswer]]) -> Response:
    await hooks.check(ctx, call)
    try:
        answer = await answer_of()
    except FhirError as error:
        call.status = error.status
        await hooks.audit(ctx, call)
        raise
    call.status, call.patient_ids, call.warnings = answer.status, answer.patient_ids, \
        answer.warnings
    await hooks.audit(ctx, call)
    headers = {"ETag": answer.etag, "Cache-Control": REVALIDATE}
    if answer.body is None:
        return Response(status_code=304, headers=headers)
    return bundle_response(request, answer.body, headers=headers)


@router.get("/Patient/$wishes", responses=fhir_responses(200, 304), summary="Patient $wishes",
            description="The end-of-life emergency summary (a document Bundle) by NHS number.")
async def wishes_by_nhs_number(
    request: Request, ctx: Ctx, base: BaseUrl,
    identifier: Annotated[str | None, Query(
        description="https://fhir.nhs.uk/Id/nhs-number|<10 digits>")] = None,
    if_none_match: OptHeader = None,
) -> Response:
    call = _call(request, "wishes", query=identifier or "")
    return await _wishes(ctx, call, request, lambda: wishes_service.wishes_by_identifier(
        ctx, identifier, base_url=base, if_none_match=if_none_match))


@router.get("/Patient/{resource_id}/$wishes", responses=fhir_responses(200, 304),
            summary="Patient instance $wishes")
async def wishes_by_id(request: Request, ctx: Ctx, base: BaseUrl, resource_id: ResourceId,
                       if_none_match: OptHeader = None) -> Response:
    call = _call(request, "wishes", patient_id=resource_id)
    return await _wishes(ctx, call, request, lambda: wishes_service.wishes_for_patient(
        ctx, resource_id, base_url=base, if_none_match=if_none_match))


@router.get("/Patient/{resource_id}/$everything", responses=fhir_responses(200),
            summary="Patient $everything")
async def everything(request: Request, ctx: Ctx, base: BaseUrl,
                     resource_id: ResourceId) -> Response:
    call = _call(request, "everything", patient_id=resource_id)
    await hooks.check(ctx, call)
    try:
        body = await everything_service.everything(
            ctx, resource_id, list(request.query_params.multi_items()), base_url=base)
    except FhirError as error:
        call.status = error.status
        await hooks.audit(ctx, call)
        raise
    call.status = 200
    await hooks.audit(ctx, call)
    return bundle_response(request, body)
