"""One Bundle entry's request, run inside a unit of work (batch and transaction)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from eolc_fhir.fhir.errors import FhirError, InvalidRequest, Issue, NotFound, PreconditionFailed
from eolc_fhir.fhir.models import is_resource_type
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources import crud, patch
from eolc_fhir.services.resources.admission import Admitted, BaseCheck, admit
from eolc_fhir.services.resources.writes import store_new_versions, store_version
from eolc_fhir.services.results import Result
from eolc_fhir.services.search.query import find_ids, search_in
from eolc_fhir.storage.unit_of_work import UnitOfWork

__all__ = ["run_entry", "run_creates", "plain_create", "rewrite_references",
           "find_for_condition", "locate"]

# Written one by one: a Subscription's write hook may refuse it (unknown topic, endpoint),
# and that error must name its own entry.
_ONE_BY_ONE = frozenset({"Subscription"})


def _split(url: str) -> tuple[list[str], str]:
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    if not path or not is_resource_type(path[0]):
        raise InvalidRequest(f"'{url}' does not name a known resource type",
                             code="not-supported", expression="request.url")
    return path, parts.query


async def find_for_condition(ctx: ServerContext, uow: UnitOfWork, rtype: str,
                             query: str) -> str | None:
    """The one id a condition matches, None for no match, 412 for several."""
    await uow.lock(f"{rtype}?{query}")
    ids = await find_ids(uow, rtype, crud.query_params(query), registry=ctx.search)
    if len(ids) > 1:
        raise PreconditionFailed(f"the condition '{rtype}?{query}' matched {len(ids)} resources")
    return ids[0] if ids else None


async def run_entry(ctx: ServerContext, uow: UnitOfWork, entry: dict[str, Any], base_url: str,
                    *, assigned: str | None = None,
                    base_check: BaseCheck = "full") -> Result:
    """``base_check``: what the entry's resource still owes of the base stage (admission.py);
    "done" when the Bundle came through read_body."""
    request = entry["request"]
    method = request["method"]
    for guard in ctx.hooks.entry_guards:  # security: per-entry authorization
        await guard(ctx, uow, method, request["url"])
    path, query = _split(request["url"])
    resource = entry.get("resource")
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        raise InvalidRequest(f"a {method} entry needs a resource", code="required",
                             expression="resource")
    if method == "POST":
        return await _post(ctx, uow, path, resource, assigned,  # type: ignore[arg-type]
                           base_check)
    if method == "PUT":
        return await _put(ctx, uow, path, query, resource,  # type: ignore[arg-type]
                          request.get("ifMatch"), base_check)
    if method == "DELETE":
        return await _delete(ctx, uow, path, query, request.get("ifMatch"))
    if method == "PATCH":
        return await _patch(ctx, uow, path, query, resource, request.get("ifMatch"))
    if method in ("GET", "HEAD"):
        return await _get(ctx, uow, path, query, base_url)
    raise InvalidRequest(f"{method} is not supported in a Bundle", code="not-supported")


def plain_create(entry: dict[str, Any], assigned: str | None) -> bool:
    """A POST entry ``run_creates`` may write together with others: a new resource (no
    matched ifNoneExist) of a type no write hook can refuse."""
    resource = entry.get("resource")
    return (entry["request"]["method"] == "POST" and assigned is not None
            and not assigned.startswith("=") and isinstance(resource, dict)
            and resource.get("resourceType") not in _ONE_BY_ONE)


async def run_creates(ctx: ServerContext, uow: UnitOfWork,
                      creates: list[tuple[int, dict[str, Any], str]],
                      base_check: BaseCheck) -> list[Result]:
    """``run_entry`` for several ``plain_create`` entries (index, entry, assigned id).

    Each is guarded, checked and admitted in order exactly as ``run_entry`` would (its
    error located at its entry); then all are written by ``store_new_versions``: one
    multi-row insert per table instead of ~7 statements per entry, same rows and hooks.
    """
    admitted: list[Admitted] = []
    for index, entry, assigned in creates:
        try:
            admitted.append(await _checked_create(ctx, uow, entry, assigned, base_check))
        except FhirError as exc:
            raise locate(exc, index) from None
    written = await store_new_versions(ctx, uow, admitted, method="POST")
    return [Result(201, stored=w.stored, warnings=w.warnings) for w in written]


async def _checked_create(ctx: ServerContext, uow: UnitOfWork, entry: dict[str, Any],
                          assigned: str, base_check: BaseCheck) -> Admitted:
    url = entry["request"]["url"]
    for guard in ctx.hooks.entry_guards:
        await guard(ctx, uow, "POST", url)
    path, _ = _split(url)
    resource: dict[str, Any] = entry["resource"]
    _same_type(path, resource)
    if len(path) != 1:
        raise InvalidRequest("POST takes a type URL such as 'Patient'", expression="request.url")
    resource["id"] = assigned
    return admit(ctx.validator, resource, base_check=base_check)


def _same_type(path: list[str], resource: dict[str, Any]) -> None:
    if resource["resourceType"] != path[0]:
        raise InvalidRequest(
            f"the resource is a {resource['resourceType']} but the request URL names {path[0]}",
            expression="resource.resourceType",
        )


async def _post(ctx: ServerContext, uow: UnitOfWork, path: list[str], resource: dict[str, Any],
                assigned: str | None, base_check: BaseCheck) -> Result:
    _same_type(path, resource)
    if len(path) != 1:
        raise InvalidRequest("POST takes a type URL such as 'Patient'", expression="request.url")
    if assigned is not None and assigned.startswith("="):
        existing = await uow.resources.get_current(path[0], assigned[1:])
        return Result(200, stored=existing)
    resource["id"] = assigned or crud.new_id()
    written = await store_version(ctx, uow, resource, None, method="POST",
                                  base_check=base_check)
    return Result(201, stored=written.stored, warnings=written.warnings)


async def _put(ctx: ServerContext, uow: UnitOfWork, path: list[str], query: str,
               resource: dict[str, Any], if_match: str | None,
               base_check: BaseCheck) -> Result:
    _same_type(path, resource)
    if len(path) == 1 and query:
        target = await find_for_condition(ctx, uow, path[0], query) or resource.get("id")
        resource_id = target or crud.new_id()
    elif len(path) == 2:
        resource_id = path[1]
    else:
        raise InvalidRequest("PUT takes 'Type/id' or 'Type?search'", expression="request.url")
    resource.setdefault("id", resource_id)
    return await crud.update_in(ctx, uow, resource, resource_id, if_match,
                                base_check=base_check)


async def _delete(ctx: ServerContext, uow: UnitOfWork, path: list[str], query: str,
                  if_match: str | None) -> Result:
    if len(path) == 1 and query:
        target = await find_for_condition(ctx, uow, path[0], query)
        if target is None:
            return Result(204)
        return await crud.delete_in(ctx, uow, path[0], target, if_match)
    if len(path) != 2:
        raise InvalidRequest("DELETE takes 'Type/id' or 'Type?search'", expression="request.url")
    return await crud.delete_in(ctx, uow, path[0], path[1], if_match)


async def _patch(ctx: ServerContext, uow: UnitOfWork, path: list[str], query: str,
                 resource: Any, if_match: str | None) -> Result:
    document = patch.patch_of_entry(resource)
    if len(path) == 1 and query:
        target = await find_for_condition(ctx, uow, path[0], query)
        if target is None:
            raise NotFound(f"the conditional patch '{path[0]}?{query}' matched nothing")
        return await patch.patch_in(ctx, uow, path[0], target, document, if_match)
    if len(path) != 2:
        raise InvalidRequest("PATCH takes 'Type/id' or 'Type?search'", expression="request.url")
    return await patch.patch_in(ctx, uow, path[0], path[1], document, if_match)


async def _get(ctx: ServerContext, uow: UnitOfWork, path: list[str], query: str,
               base_url: str) -> Result:
    if len(path) == 2:
        current = await uow.resources.get_current(path[0], path[1])
        if current is None or current.deleted:
            raise NotFound(f"{path[0]}/{path[1]} is not known")
        return Result(200, stored=current)
    if len(path) == 4 and path[2] == "_history" and path[3].isdigit():
        stored = await uow.resources.get_version(path[0], path[1], int(path[3]))
        if stored is None or stored.deleted:
            raise NotFound(f"{'/'.join(path)} is not known")
        return Result(200, stored=stored)
    if len(path) == 1:
        body = await search_in(ctx, uow, path[0], crud.query_params(query), base_url=base_url)
        return Result(200, body=body)
    raise InvalidRequest("unsupported GET in a Bundle", code="not-supported")


async def rewrite_references(ctx: ServerContext, uow: UnitOfWork, node: Any,
                             id_map: dict[str, str]) -> Any:
    """Replace fullUrls (urn:uuid:...) and conditional references with Type/id, in place."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                node[key] = await _resolve(ctx, uow, value, id_map)
            elif isinstance(value, str) and value in id_map:
                node[key] = id_map[value]
            else:
                await rewrite_references(ctx, uow, value, id_map)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            if isinstance(value, str) and value in id_map:
                node[i] = id_map[value]
            else:
                await rewrite_references(ctx, uow, value, id_map)
    return node


async def _resolve(ctx: ServerContext, uow: UnitOfWork, reference: str,
                   id_map: dict[str, str]) -> str:
    if reference in id_map:
        return id_map[reference]
    if "?" in reference and not reference.startswith(("http:", "https:", "urn:")):
        rtype, query = reference.split("?", 1)
        if is_resource_type(rtype):
            found = await find_for_condition(ctx, uow, rtype, query)
            if found is None:
                raise NotFound(f"the conditional reference '{reference}' matched nothing")
            return f"{rtype}/{found}"
    if reference.startswith("urn:uuid:"):
        raise InvalidRequest(f"the reference '{reference}' names no entry of this Bundle",
                             code="not-found")
    return reference


def locate(exc: FhirError, index: int) -> FhirError:
    """Re-point an entry's issues at Bundle.entry[index] so the client sees which failed."""
    prefix = f"Bundle.entry[{index}]"
    issues = []
    for issue in exc.issues:
        expressions = tuple(_relocate(e, prefix) for e in issue.expression) or (prefix,)
        issues.append(Issue(issue.severity, issue.code, f"{prefix}: {issue.diagnostics}",
                            expressions))
    located = type(exc)(issues=issues, headers=exc.headers)
    return located


def _relocate(expression: str, prefix: str) -> str:
    if expression.startswith(("request", "resource", "fullUrl")):
        return f"{prefix}.{expression}"
    head, _, rest = expression.partition(".")
    if is_resource_type(head.split("[")[0]):
        return f"{prefix}.resource" + (f".{rest}" if rest else "")
    return f"{prefix}.{expression}"
