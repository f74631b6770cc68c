"""The region's conformance resources: published at start, $validate, terminology.

Every JSON file in ``profiles/`` (StructureDefinitions, ValueSets, CodeSystems,
SearchParameters, OperationDefinitions, Measures, and the subscription topics as
the Backport IG's R4 ``Basic`` resources) is stored through
the normal write path when the server starts — a new version only when the
file changed — so it is readable and searchable like any other resource.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson

from eolc_fhir.fhir.errors import InvalidRequest, Issue, NotFound
from eolc_fhir.fhir.outcome import operation_outcome
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources import crud
from eolc_fhir.services.resources.intake import read_body
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.topics import topic_resources

__all__ = ["publish", "validate_operation", "expand", "validate_code", "lookup"]

log = logging.getLogger("eolc_fhir")


_PUBLISHED = ("StructureDefinition", "ValueSet", "CodeSystem", "SearchParameter",
              "OperationDefinition", "Measure")


def _files(profiles_dir: Path) -> list[dict[str, Any]]:
    found = [orjson.loads(p.read_bytes()) for name in _PUBLISHED
             for p in sorted(profiles_dir.glob(f"{name}-*.json"))]
    return found + topic_resources(profiles_dir)  # topics: R4 Basic (subscriptions/r4_topics)


def _without_meta(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


async def publish(ctx: ServerContext) -> int:
    """Store each conformance resource that is new or changed; returns how many."""
    changed = 0
    for resource in _files(ctx.settings.profiles_dir):

        async def work(uow: UnitOfWork, resource: dict[str, Any] = resource) -> bool:
            current = await uow.resources.get_current(resource["resourceType"], resource["id"])
            if current is not None and not current.deleted and current.content is not None \
                    and _without_meta(orjson.loads(current.content)) == _without_meta(resource):
                return False
            # Both stages of validation run in the write path (the file is not a request).
            await crud.update_in(ctx, uow, dict(resource), resource["id"])
            return True

        changed += await crud.retrying(ctx, work)
    if changed:
        log.info("published %d conformance resource(s) from profiles/", changed)
    return changed


def _parameters(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """(resource, mode, profiles) from a $validate Parameters body."""
    resource, mode, profiles = None, None, []
    for param in body.get("parameter") or []:
        name = param.get("name")
        if name == "resource":
            resource = param.get("resource")
        elif name == "mode":
            mode = param.get("valueCode") or param.get("valueString")
        elif name == "profile":
            profiles.append(param.get("valueUri") or param.get("valueCanonical") or "")
    return resource, mode, profiles


async def validate_operation(ctx: ServerContext, resource_type: str, body: bytes,
                             resource_id: str | None = None,
                             profile: str | None = None) -> dict[str, Any]:
    """$validate: every issue found, as an OperationOutcome (200 whatever it says)."""
    try:
        parsed = read_body(ctx, body, None, model_check=True)  # every check there is
    except InvalidRequest as exc:
        return operation_outcome(exc.issues)
    profiles = [profile] if profile else []
    resource: Any = parsed
    mode = None
    if parsed.get("resourceType") == "Parameters" and resource_type != "Parameters":
        resource, mode, extra = _parameters(parsed)
        profiles += extra
        if resource is None:
            if mode == "delete" and resource_id is not None:
                return operation_outcome([])
            raise InvalidRequest("$validate needs a 'resource' parameter", code="required",
                                 expression="Parameters.parameter")
    if resource.get("resourceType") != resource_type:
        issue = Issue("error", "invalid", f"the resource is a {resource.get('resourceType')}, "
                      f"not a {resource_type}", ("resourceType",))
        return operation_outcome([issue])
    if resource_id is not None and mode == "update" and resource.get("id") != resource_id:
        issue = Issue("error", "invalid", "the resource id does not match the URL",
                      (f"{resource_type}.id",))
        return operation_outcome([issue])
    return operation_outcome(_profile_issues(ctx, resource, profiles))


def _profile_issues(ctx: ServerContext, resource: dict[str, Any],
                    profiles: list[str]) -> list[Issue]:
    if ctx.validator is None:
        return []
    unknown = [p for p in profiles if p not in ctx.validator.profile_urls]
    if unknown:
        return [Issue("error", "not-supported", f"unknown profile {p}", ("profile",))
                for p in unknown]
    issues: list[Issue] = ctx.validator.validate(resource, extra_profiles=profiles)
    return issues


def _terminology(ctx: ServerContext) -> Any:
    if ctx.validator is None:
        raise NotFound("no terminology is loaded")
    return ctx.validator.terminology


async def _canonical_of(ctx: ServerContext, rtype: str, resource_id: str | None,
                        url: str | None) -> str:
    if url:
        return url
    if resource_id is None:
        raise InvalidRequest("give 'url' or call the operation on an instance",
                             code="required", expression="url")
    result = await crud.read(ctx, rtype, resource_id)
    assert result.stored is not None and result.stored.content is not None
    canonical = orjson.loads(result.stored.content).get("url")
    if not canonical:
        raise InvalidRequest(f"{rtype}/{resource_id} has no canonical url")
    return str(canonical)


async def expand(ctx: ServerContext, params: dict[str, str],
                 resource_id: str | None = None) -> dict[str, Any]:
    url = await _canonical_of(ctx, "ValueSet", resource_id, params.get("url"))
    result: dict[str, Any] = _terminology(ctx).expand(url, params.get("filter"))
    return result


async def validate_code(ctx: ServerContext, params: dict[str, str],
                        resource_id: str | None = None) -> dict[str, Any]:
    url = await _canonical_of(ctx, "ValueSet", resource_id, params.get("url"))
    code = params.get("code")
    if not code:
        raise InvalidRequest("$validate-code needs 'code'", code="required", expression="code")
    result: dict[str, Any] = _terminology(ctx).validate_code(
        url, params.get("system"), code, params.get("display"))
    return result


async def lookup(ctx: ServerContext, params: dict[str, str]) -> dict[str, Any]:
    system, code = params.get("system"), params.get("code")
    if not system or not code:
        raise InvalidRequest("$lookup needs 'system' and 'code'", code="required",
                             expression="system" if not system else "code")
    result: dict[str, Any] = _terminology(ctx).lookup(system, code)
    return result
