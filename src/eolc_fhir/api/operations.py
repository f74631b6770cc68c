"""Patient operations: $wishes (the ambulance question) and $everything.

Matched before the generic /{type}/{id} routes. Authorization (role, scopes, and
read access to everything a $wishes document holds) happened in the router's
dependency, audit happens around the request (api/guard.py): a route only calls
its service and renders the answer.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import Response

from eolc_fhir.api.audit_notes import record_patients
from eolc_fhir.api.deps import BaseUrl, Ctx, ResourceId
from eolc_fhir.api.docs import fhir_responses, with_html_page
from eolc_fhir.api.responses import REVALIDATE, bundle_response
from eolc_fhir.services import everything as everything_service
from eolc_fhir.services.wishes import document as wishes_service

__all__ = ["router", "wishes_headers"]

router = APIRouter()
OptHeader = Annotated[str | None, Header()]


def wishes_headers(answer: wishes_service.WishesAnswer) -> dict[str, str]:
    """The headers of a $wishes answer, for both front doors; names its people and the
    resources read for the audit (so the document need not be parsed again)."""
    record_patients(answer.patient_ids, answer.resources, decided=True, compartment=True)
    # One ETag, two forms (the document, its printable page: api/html_format.py).
    return {"etag": answer.etag, "cache-control": REVALIDATE, "vary": "Accept"}


def _render(request: Request, answer: wishes_service.WishesAnswer) -> Response:
    headers = wishes_headers(answer)
    if answer.body is None:
        return Response(status_code=304, headers=headers)
    return bundle_response(request, answer.body, headers=headers)


@router.get("/Patient/$wishes", responses=with_html_page(fhir_responses(200, 304)),
            summary="Patient $wishes",
            description="The end-of-life emergency summary (a document Bundle) by NHS number. "
                        "For a person whose death is recorded the document is still given; "
                        "its title begins DECEASED and its first warning is `deceased`. "
                        "With Accept: text/html (or _format=html): a printable HTML page.")
async def wishes_by_nhs_number(
    request: Request, ctx: Ctx, base: BaseUrl,
    identifier: Annotated[str | None, Query(
        description="https://fhir.nhs.uk/Id/nhs-number|<10 digits>")] = None,
    if_none_match: OptHeader = None,
) -> Response:
    return _render(request, await wishes_service.wishes_by_identifier(
        ctx, identifier, base_url=base, if_none_match=if_none_match))


@router.get("/Patient/{resource_id}/$wishes",
            responses=with_html_page(fhir_responses(200, 304)),
            summary="Patient instance $wishes")
async def wishes_by_id(request: Request, ctx: Ctx, base: BaseUrl, resource_id: ResourceId,
                       if_none_match: OptHeader = None) -> Response:
    record_patients([resource_id])
    return _render(request, await wishes_service.wishes_for_patient(
        ctx, resource_id, base_url=base, if_none_match=if_none_match))


@router.get("/Patient/{resource_id}/$everything", responses=fhir_responses(200),
            summary="Patient $everything")
async def everything(request: Request, ctx: Ctx, base: BaseUrl,
                     resource_id: ResourceId) -> Response:
    record_patients([resource_id])
    body = await everything_service.everything(
        ctx, resource_id, list(request.query_params.multi_items()), base_url=base)
    return bundle_response(request, body)
