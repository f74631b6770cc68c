"""$evaluate-measure: read the Measure, ask the database for its populations, report.

    evaluate_measure(ctx, EvaluateRequest(...)) -> MeasureEvaluation(report, measure_id,
                                                                      patients)
    active_measures(ctx) -> [Measure resource, ...]

Every count is computed in the database (storage/measure_sql.py), in one read
transaction: a summary never sees a patient id; a subject list and an individual
report name the patients they are about (``patients``, for the audit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from eolc_fhir.fhir.errors import FhirError, Forbidden, InvalidRequest, NotFound
from eolc_fhir.fhir.instant import now_us, to_instant
from eolc_fhir.search.measures import GroupSpec, MeasureSpec, read_measure
from eolc_fhir.search.parse import parse_clause
from eolc_fhir.search.values import DateFormatError, date_range
from eolc_fhir.security.policy import can_read
from eolc_fhir.security.practice import bound_practice
from eolc_fhir.security.principal import current_principal
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.measures.params import EvaluateRequest
from eolc_fhir.services.measures.reasons import reasons
from eolc_fhir.services.measures.report import (
    GroupResult,
    group_report,
    narrative,
    subject_lists,
)
from eolc_fhir.storage.measure_plan import Scope
from eolc_fhir.storage.query import Query
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["MeasureEvaluation", "evaluate_measure", "active_measures", "report_bytes", "install",
           "EvaluateRequest"]

_ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
OPERATION = {"name": "evaluate-measure",
             "definition": "https://eolc.example.org/fhir/OperationDefinition/"
                           "Measure-evaluate-measure"}


def _capability(resource_type: str, entry: dict[str, Any]) -> None:
    if resource_type == "Measure":
        entry.setdefault("operation", []).append(OPERATION)


def install(ctx: ServerContext) -> None:
    """Declare $evaluate-measure in the CapabilityStatement (called at start-up)."""
    if _capability not in ctx.hooks.capability_contributors:
        ctx.hooks.capability_contributors.append(_capability)


@dataclass
class MeasureEvaluation:
    """The MeasureReport (a dict, valid R4), the Measure's id, and the patients it names
    (none for a summary)."""

    report: dict[str, Any]
    measure_id: str
    patients: list[str] = field(default_factory=list)


def _period(request: EvaluateRequest) -> tuple[int, int]:
    bounds = []
    for name, text, end in (("periodStart", request.period_start, 0),
                            ("periodEnd", request.period_end, 1)):
        try:
            bounds.append(date_range(text)[end])
        except DateFormatError:
            raise InvalidRequest(f"{name} '{text}' is not a date", expression=name) from None
    if bounds[0] > bounds[1]:
        raise InvalidRequest("periodEnd is before periodStart", expression="periodEnd")
    return bounds[0], bounds[1]


def _may_name_patients(kind: str) -> None:
    if kind != "summary" and not can_read(current_principal(), "Patient"):
        raise Forbidden(f"a {kind} report names patients: this client may not read patient "
                        "data (reportType=population gives the counts)", code="forbidden")


async def _may_see_person(ctx: ServerContext, request: EvaluateRequest) -> None:
    """One person's report is made of their records: when they withdrew consent to share,
    only admin gets it (other organisations would learn from it what they may not read)."""
    principal = current_principal()
    if request.kind != "individual" or ctx.security is None or principal is None \
            or principal.is_admin:
        return
    patient = (request.subject or "").partition("/")[2]
    if patient in await ctx.security.withdrawn_patients():
        raise Forbidden("the person has withdrawn consent to share their record: no "
                        "individual report is made of it for other organisations",
                        code="forbidden")


async def _within_practice(ctx: ServerContext, uow: UnitOfWork,
                           request: EvaluateRequest) -> None:
    """A GP person's reports that name patients stay within their practice: an individual
    report of one of their people, a subject list of their practice (docs/security.md)."""
    practice = bound_practice(current_principal()) if ctx.security is not None else None
    if practice is None or request.kind == "summary":
        return
    rtype, _, rid = (request.subject or "").partition("/")
    if rtype == "Patient":
        if practice not in (await ctx.security.practices([rid])).get(rid, ()):
            raise InvalidRequest(f"subject {request.subject} is not known", code="not-found",
                                 expression="subject")
        return
    if rtype == "Organization" and practice in await _ods_codes(uow, rid):
        return
    raise Forbidden(f"a {request.kind} report names patients: a GP person's is for their own "
                    f"practice (subject=Organization/[the practice's id])", code="forbidden")


async def _ods_codes(uow: UnitOfWork, org_id: str) -> set[str]:
    rows = await uow.search.fetch_current([("Organization", org_id)])
    return {str(i.get("value")) for _, _, content in rows
            for i in orjson.loads(content).get("identifier") or [] if i.get("system") == _ODS}


async def _measure(ctx: ServerContext, uow: UnitOfWork,
                   request: EvaluateRequest) -> tuple[str, dict[str, Any]]:
    if request.measure_resource is not None:
        return str(request.measure_resource.get("id") or ""), request.measure_resource
    if request.measure_id is not None:
        rid = request.measure_id
    else:
        url = request.measure_url or ""
        query = Query("Measure", (parse_clause(ctx.search, "Measure", "url", url),))
        found = sorted(await uow.measures.ids(query))
        if not found:
            raise InvalidRequest(f"no Measure has the url '{url}'", code="not-found",
                                 expression="measure")
        rid = found[0]
    rows = await uow.search.fetch_current([("Measure", rid)])
    if not rows:
        raise NotFound(f"Measure/{rid} is not known")
    return rid, dict(orjson.loads(rows[0][2]))


async def _scope(uow: UnitOfWork, request: EvaluateRequest) -> Scope:
    if request.subject is None:
        return Scope()
    rtype, _, rid = request.subject.partition("/")
    if not await uow.search.fetch_current([(rtype, rid)]):
        raise InvalidRequest(f"subject {request.subject} is not known", code="not-found",
                             expression="subject")
    if rtype == "Patient":
        return Scope(patient_id=rid)
    return Scope(practice_id=rid)


async def _group(uow: UnitOfWork, spec: GroupSpec, scope: Scope, kind: str) -> GroupResult:
    plan = spec.plan
    observed = await uow.measures.observations(plan, scope) if plan.observation else []
    if kind == "individual":
        members = await uow.measures.members(plan, scope)
        width = len(plan.populations)
        flags, parts = (members[0][1], members[0][2]) if members else ((0,) * width, {})
        value = observed[0][2] if observed else None
        full = (*flags, 1 if value is not None else 0) if plan.observation else flags
        return GroupResult(spec, [], observed,
                           individual=(tuple(full), reasons(plan, flags, parts, value)))
    result = GroupResult(spec, await uow.measures.strata(plan, scope), observed)
    if kind == "subject-list":
        members = await uow.measures.members(plan, scope)
        result.lists = {pop.code: [m[0] for m in members if m[1][k]]
                        for k, pop in enumerate(plan.populations)}
    return result


async def _practice_codes(uow: UnitOfWork, results: list[GroupResult]) -> dict[str, str]:
    ids = sorted({s.practice_id for r in results for s in r.strata if s.practice_id})
    codes: dict[str, str] = {}
    for _, rid, content in await uow.search.fetch_current([("Organization", i) for i in ids]):
        for ident in orjson.loads(content).get("identifier") or []:
            if ident.get("system") == _ODS and ident.get("value"):
                codes[rid] = str(ident["value"])
    return codes


async def evaluate_measure(ctx: ServerContext, request: EvaluateRequest) -> MeasureEvaluation:
    """Evaluate one Measure for ``request`` (400 for a Measure or parameter this server
    cannot read, 403 for a report naming patients to a client that may not read them)."""
    kind = request.kind
    _may_name_patients(kind)
    await _may_see_person(ctx, request)
    start_us, end_us = _period(request)
    async with ctx.db.unit_of_work(write=False) as uow:
        await _within_practice(ctx, uow, request)
        measure_id, measure = await _measure(ctx, uow, request)
        try:
            spec = read_measure(measure, ctx.search, (to_instant(start_us), to_instant(end_us)),
                                end_us)
        except FhirError as exc:
            raise InvalidRequest(f"Measure/{measure_id} cannot be evaluated: {exc}",
                                 expression=exc.issues[0].expression) from None
        scope = await _scope(uow, request)
        results = [await _group(uow, g, scope, kind) for g in spec.groups]
        ods = await _practice_codes(uow, results)
    report = _report(measure, spec, request, results, ods)
    return MeasureEvaluation(report, measure_id, _patients(results, scope))


def _patients(results: list[GroupResult], scope: Scope) -> list[str]:
    if scope.patient_id is not None:
        return [scope.patient_id]
    named: dict[str, None] = {}
    for result in results:
        for ids in (result.lists or {}).values():
            named.update(dict.fromkeys(ids))
    return list(named)


def _report(measure: dict[str, Any], spec: MeasureSpec, request: EvaluateRequest,
            results: list[GroupResult], ods: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = {
        "resourceType": "MeasureReport", "status": "complete", "type": request.kind,
        "measure": spec.url, "date": to_instant(now_us()),
        "period": {"start": request.period_start, "end": request.period_end},
    }
    if request.subject:
        report["subject"] = {"reference": request.subject}
    if measure.get("improvementNotation"):
        report["improvementNotation"] = measure["improvementNotation"]
    contained = [lst for g, r in enumerate(results) for lst in subject_lists(r, g)]
    if contained:
        report["contained"] = contained
    report["group"] = [group_report(r, g, ods) for g, r in enumerate(results)]
    if request.kind == "individual":
        lines = [f"{spec.groups[g].codes[n]}: {reason}" for g, r in enumerate(results)
                 if r.individual for n, reason in enumerate(r.individual[1])]
        title = f"{measure.get('title') or spec.url} for {request.subject}"
        report["text"] = narrative(title, lines)
    return report


async def active_measures(ctx: ServerContext) -> list[dict[str, Any]]:
    """Every active Measure stored (those of profiles/ and any a region added), by id."""
    query = Query("Measure", (parse_clause(ctx.search, "Measure", "status", "active"),))
    async with ctx.db.unit_of_work(write=False) as uow:
        ids = sorted(await uow.measures.ids(query))
        rows = await uow.search.fetch_current([("Measure", i) for i in ids])
    return [dict(orjson.loads(content)) for _, _, content in rows]


def report_bytes(evaluation: MeasureEvaluation) -> bytes:
    return orjson.dumps(evaluation.report)
