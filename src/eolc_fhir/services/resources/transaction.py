"""batch and transaction Bundles (POST /).

A transaction runs every entry in ONE unit of work, in the order the
specification gives (DELETE, POST, PUT, GET), after mapping each
``urn:uuid:`` fullUrl to the id it will get; any failure rolls back all.
A batch runs each entry in its own unit of work and reports per entry: an
entry that is malformed (refused by intake.read_bundle, or with no usable
request) gets its own status and OperationOutcome, and the others still run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from eolc_fhir.fhir.bundle import BundleEntry, assemble_bundle
from eolc_fhir.fhir.errors import FhirError, InvalidRequest
from eolc_fhir.fhir.instant import to_instant
from eolc_fhir.fhir.outcome import operation_outcome
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources import entries
from eolc_fhir.services.resources.admission import BaseCheck
from eolc_fhir.services.resources.crud import retrying
from eolc_fhir.services.resources.writes import new_id
from eolc_fhir.services.results import Result
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["process_bundle"]

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_REASON = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}


@dataclass
class _Plan:
    """The entries of a request Bundle, with their requests checked up front."""

    items: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    id_map: dict[str, str] = field(default_factory=dict)  # fullUrl -> Type/id
    base_check: BaseCheck = "full"  # what the entries' resources owe of the base stage
    refused: dict[int, FhirError] = field(default_factory=dict)  # batch entries, by index


async def process_bundle(ctx: ServerContext, bundle: dict[str, Any], *, base_url: str,
                         minimal: bool = False, base_check: BaseCheck = "full",
                         refused: dict[int, FhirError] | None = None) -> bytes:
    """``base_check``: "done" when the Bundle came through read_body (its entries' resources
    too); otherwise each written resource gets the whole base stage (admission.py).
    ``refused``: batch entries intake.read_bundle refused, answered with their errors."""
    kind = bundle.get("type")
    if kind not in ("batch", "transaction"):
        raise InvalidRequest(
            f"POST / takes a batch or transaction Bundle, not '{kind}'", expression="Bundle.type"
        )
    plan = _plan(bundle, base_check, refused or {})
    if kind == "transaction":
        results = await retrying(ctx, lambda uow: _run_transaction(ctx, uow, plan, base_url))
        return _response("transaction-response", results, base_url, minimal)
    results_b: list[tuple[int, Result | FhirError]] = list(plan.refused.items())
    results_b += [await _batch_entry(ctx, i, e, base_url, plan.base_check)
                  for i, e in plan.items]
    return _response("batch-response", sorted(results_b, key=lambda r: r[0]), base_url,
                     minimal)


def _plan(bundle: dict[str, Any], base_check: BaseCheck,
          refused: dict[int, FhirError]) -> _Plan:
    """The entries to run; a batch entry without a usable request is refused on its own,
    a transaction's refuses the whole Bundle."""
    plan = _Plan(base_check=base_check, refused=dict(refused))
    for index, entry in enumerate(bundle.get("entry") or []):
        if index in plan.refused:
            continue
        try:
            _check_request(entry, index)
        except FhirError as exc:
            if bundle.get("type") != "batch":
                raise
            plan.refused[index] = exc
            continue
        plan.items.append((index, entry))
    return plan


def _check_request(entry: Any, index: int) -> None:
    request = entry.get("request") if isinstance(entry, dict) else None
    where = f"Bundle.entry[{index}].request"
    if not isinstance(request, dict) or not request.get("method") or not request.get("url"):
        raise InvalidRequest("every entry needs request.method and request.url",
                             code="required", expression=where)
    if request["method"] not in _ORDER:
        raise InvalidRequest(f"unsupported method {request['method']}",
                             code="not-supported", expression=f"{where}.method")


async def _run_transaction(ctx: ServerContext, uow: UnitOfWork, plan: _Plan,
                           base_url: str) -> list[tuple[int, Result | FhirError]]:
    # Work on a copy: a retried attempt must start from the Bundle as it was sent.
    items = [(i, orjson.loads(orjson.dumps(e))) for i, e in plan.items]
    ordered = sorted(items, key=lambda item: (_ORDER[item[1]["request"]["method"]], item[0]))
    id_map: dict[str, str] = {}
    resolved: dict[int, str] = {}
    for index, entry in ordered:
        if entry["request"]["method"] == "POST":
            resolved[index] = await _assign(ctx, uow, index, entry, id_map)
    for _, entry in items:
        if isinstance(entry.get("resource"), dict):
            await entries.rewrite_references(ctx, uow, entry["resource"], id_map)
    results: dict[int, Result | FhirError] = {}
    creates: list[tuple[int, dict[str, Any], str]] = []  # consecutive plain POSTs
    for index, entry in ordered:
        assigned = resolved.get(index)
        if entries.plain_create(entry, assigned):
            creates.append((index, entry, assigned))  # type: ignore[arg-type]
            continue
        await _write_creates(ctx, uow, creates, plan.base_check, results)
        try:
            results[index] = await entries.run_entry(ctx, uow, entry, base_url,
                                                     assigned=assigned,
                                                     base_check=plan.base_check)
        except FhirError as exc:
            raise entries.locate(exc, index) from None
    await _write_creates(ctx, uow, creates, plan.base_check, results)
    return sorted(results.items())


async def _write_creates(ctx: ServerContext, uow: UnitOfWork,
                         creates: list[tuple[int, dict[str, Any], str]], base_check: BaseCheck,
                         results: dict[int, Result | FhirError]) -> None:
    """Write the creates gathered so far together (entries.run_creates), then forget them."""
    if not creates:
        return
    written = await entries.run_creates(ctx, uow, creates, base_check)
    results.update((index, result) for (index, _, _), result in zip(creates, written,
                                                                     strict=True))
    creates.clear()


async def _assign(ctx: ServerContext, uow: UnitOfWork, index: int, entry: dict[str, Any],
                  id_map: dict[str, str]) -> str:
    """Decide the id a POST entry will get (an existing one for a matched ifNoneExist)."""
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        raise InvalidRequest("a POST entry needs a resource", code="required",
                             expression=f"Bundle.entry[{index}].resource")
    rtype = resource["resourceType"]
    assigned = new_id()
    condition = entry["request"].get("ifNoneExist")
    if condition:
        try:
            matched = await entries.find_for_condition(ctx, uow, rtype, condition)
        except FhirError as exc:
            raise entries.locate(exc, index) from None
        if matched is not None:
            assigned = "=" + matched  # marks "exists already": run_entry returns it as is
    full_url = entry.get("fullUrl")
    if isinstance(full_url, str) and full_url:
        id_map[full_url] = f"{rtype}/{assigned.lstrip('=')}"
    return assigned


async def _batch_entry(ctx: ServerContext, index: int, entry: dict[str, Any],
                       base_url: str, base_check: BaseCheck) -> tuple[int, Result | FhirError]:
    async def work(uow: UnitOfWork) -> Result:
        assigned = None
        if entry["request"]["method"] == "POST" and isinstance(entry.get("resource"), dict):
            assigned = await _assign(ctx, uow, index, entry, {})
        return await entries.run_entry(ctx, uow, entry, base_url, assigned=assigned,
                                       base_check=base_check)

    try:
        return index, await retrying(ctx, work)
    except FhirError as exc:
        return index, entries.locate(exc, index)


def _response(kind: str, results: list[tuple[int, Result | FhirError]], base_url: str,
              minimal: bool) -> bytes:
    out = [_response_entry(result, base_url, minimal) for _, result in results]
    return assemble_bundle(kind, out)


def _response_entry(result: Result | FhirError, base_url: str, minimal: bool) -> BundleEntry:
    if isinstance(result, FhirError):
        outcome = operation_outcome(result.issues)
        return BundleEntry({"response": {"status": str(result.status), "outcome": outcome}})
    response: dict[str, Any] = {"status": f"{result.status} {_REASON.get(result.status, '')}"
                                .strip()}
    stored = result.stored
    fields: dict[str, Any] = {}
    if stored is not None:
        ref = f"{stored.resource_type}/{stored.id}"
        fields["fullUrl"] = f"{base_url}/{ref}"
        response["etag"] = f'W/"{stored.version}"'
        response["lastModified"] = to_instant(stored.last_updated_us)
        if result.status == 201:
            response["location"] = f"{ref}/_history/{stored.version}"
    if result.warnings:
        response["outcome"] = operation_outcome(result.warnings)
    fields["response"] = response
    body = result.body if result.body else None
    if body is None and stored is not None and not stored.deleted and not minimal:
        body = stored.content
    return BundleEntry(fields, body)


