"""Measure/$evaluate-measure (R4): a route reads the parameters, calls the service, renders.

GET takes the parameters in the query; POST in a Parameters body (or the query when
the body is empty). Authorization happened in the router's dependency (the operation's
roles); the audit names the Measure and the period, and the patients a subject list
or individual report names.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from eolc_fhir.api.deps import Ctx, ResourceId
from eolc_fhir.api.docs import fhir_body, fhir_responses
from eolc_fhir.api.guard import record_patients
from eolc_fhir.api.responses import bundle_response
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.measures import evaluate, params
from eolc_fhir.services.resources.intake import read_body

__all__ = ["router"]

router = APIRouter()
_DOC = ("Evaluates a Measure over a period (periodStart, periodEnd) in the database and "
        "answers a MeasureReport: reportType population (summary, the default), subject-list "
        "(the patients as contained Lists) or subject (subject=Patient/<id>: in or out of each "
        "population and why); subject=Organization/<id> restricts it to a GP practice's "
        "patients. Stratified by GP practice and age band.")


async def _request(request: Request, ctx: ServerContext,
                   measure_id: str | None) -> params.EvaluateRequest:
    if request.method == "POST":
        body = await request.body()
        if body:
            return params.from_parameters(read_body(ctx, body, "Parameters"), measure_id)
    return params.from_query(list(request.query_params.multi_items()), measure_id)


async def _answer(request: Request, ctx: ServerContext, measure_id: str | None) -> Response:
    wanted = await _request(request, ctx, measure_id)
    result = await evaluate.evaluate_measure(ctx, wanted)
    record_patients(result.patients, [f"Measure/{result.measure_id}"], decided=True,
                    query=wanted.audit_query())
    return bundle_response(request, evaluate.report_bytes(result))


@router.get("/Measure/$evaluate-measure", responses=fhir_responses(200),
            summary="Measure $evaluate-measure (by canonical url)", description=_DOC)
async def evaluate_by_url(request: Request, ctx: Ctx) -> Response:
    return await _answer(request, ctx, None)


@router.post("/Measure/$evaluate-measure", responses=fhir_responses(200),
             openapi_extra=fhir_body(), summary="Measure $evaluate-measure (by canonical url)",
             description=_DOC)
async def evaluate_by_url_post(request: Request, ctx: Ctx) -> Response:
    return await _answer(request, ctx, None)


@router.get("/Measure/{resource_id}/$evaluate-measure", responses=fhir_responses(200),
            summary="Measure instance $evaluate-measure", description=_DOC)
async def evaluate_instance(request: Request, ctx: Ctx, resource_id: ResourceId) -> Response:
    return await _answer(request, ctx, resource_id)


@router.post("/Measure/{resource_id}/$evaluate-measure", responses=fhir_responses(200),
             openapi_extra=fhir_body(), summary="Measure instance $evaluate-measure",
             description=_DOC)
async def evaluate_instance_post(request: Request, ctx: Ctx,
                                 resource_id: ResourceId) -> Response:
    return await _answer(request, ctx, resource_id)
