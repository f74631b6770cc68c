"""patch and conditional patch: a JSON Patch or FHIRPath Patch on the current version,
then written exactly as an update is (store_version: validation, index, version, hooks).

A patch that cannot apply (a failed ``test``, a path that selects nothing, ...)
or whose result is not a valid resource changes nothing and answers 422 naming
where; a malformed patch document is a 400.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from eolc_fhir.fhir.errors import (
    Gone,
    InvalidRequest,
    NotFound,
    PreconditionFailed,
    ProfileViolation,
    UnsupportedMediaType,
)
from eolc_fhir.fhir.fhirpath_patch import (
    FhirPathOperation,
    apply_fhirpath_patch,
    read_fhirpath_patch,
)
from eolc_fhir.fhir.json_patch import apply_json_patch, read_json_patch
from eolc_fhir.fhir.parse import check_resource, parse_json
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.crud import query_params, retrying
from eolc_fhir.services.resources.intake import read_body
from eolc_fhir.services.resources.writes import check_if_match, store_version
from eolc_fhir.services.results import Result
from eolc_fhir.services.search.query import find_ids
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.validation.fhirpath import evaluate_node, parse_strict

__all__ = ["PatchDocument", "JSON_PATCH", "read_patch", "patch_of_entry", "patch_in", "patch",
           "conditional_patch"]

JSON_PATCH = "application/json-patch+json"
_FHIR_JSON = {"application/fhir+json", "application/json", "application/json+fhir"}


@dataclass(frozen=True, slots=True)
class PatchDocument:
    """A checked patch: JSON Patch operations, or FHIRPath Patch operations."""

    json_patch: list[dict[str, Any]] | None = None
    fhirpath: list[FhirPathOperation] | None = None

    def apply(self, resource: dict[str, Any]) -> Any:
        if self.json_patch is not None:
            return apply_json_patch(resource, self.json_patch)
        assert self.fhirpath is not None
        return apply_fhirpath_patch(resource, self.fhirpath, parse_strict, evaluate_node)


def read_patch(ctx: ServerContext, body: bytes, content_type: str) -> PatchDocument:
    """A PATCH request body: JSON Patch by its media type, else a Parameters resource."""
    media = content_type.split(";")[0].strip().lower()
    if media == JSON_PATCH:
        s = ctx.settings
        return PatchDocument(json_patch=read_json_patch(parse_json(
            body, max_depth=s.max_json_depth, max_array_length=s.max_array_length)))
    if media in _FHIR_JSON and body.lstrip()[:1] == b"[":
        raise UnsupportedMediaType(f"a JSON Patch (an array of operations) is sent as "
                                   f"Content-Type: {JSON_PATCH}, not '{media}'")
    if media in _FHIR_JSON or not media:
        return PatchDocument(fhirpath=read_fhirpath_patch(read_body(ctx, body, "Parameters")))
    raise UnsupportedMediaType(
        f"PATCH takes a JSON Patch ({JSON_PATCH}) or a FHIRPath Patch Parameters resource "
        f"(application/fhir+json), not '{media}'")


def patch_of_entry(resource: Any) -> PatchDocument:
    """A Bundle entry's patch: a Binary holding a base64 JSON Patch, or Parameters."""
    rtype = resource.get("resourceType") if isinstance(resource, dict) else None
    if rtype == "Parameters":
        return PatchDocument(fhirpath=read_fhirpath_patch(resource))
    if rtype != "Binary":
        raise InvalidRequest("a PATCH entry's resource is a Binary (JSON Patch) or a "
                             "Parameters (FHIRPath Patch)", code="required",
                             expression="resource")
    if resource.get("contentType") != JSON_PATCH:
        raise InvalidRequest(f"a PATCH entry's Binary must have contentType {JSON_PATCH}",
                             code="value", expression="resource.contentType")
    try:
        document = orjson.loads(base64.b64decode(resource.get("data", ""), validate=True))
    except (binascii.Error, ValueError):
        raise InvalidRequest("the Binary's data is not base64 JSON", code="structure",
                             expression="resource.data") from None
    return PatchDocument(json_patch=read_json_patch(document))


async def patch_in(ctx: ServerContext, uow: UnitOfWork, rtype: str, resource_id: str,
                   document: PatchDocument, if_match: str | None = None) -> Result:
    """Patch the current version inside a caller's unit of work."""
    current = await uow.resources.get_current(rtype, resource_id, for_update=True)
    if current is None:
        raise NotFound(f"{rtype}/{resource_id} is not known")
    if current.deleted:
        raise Gone(f"{rtype}/{resource_id} has been deleted")
    check_if_match(if_match, current)
    assert current.content is not None
    patched = document.apply(orjson.loads(current.content))
    _still_the_same(patched, rtype, resource_id)
    try:
        check_resource(patched)
    except InvalidRequest as exc:  # the document was fine; what it produced is not
        raise ProfileViolation(issues=exc.issues) from None
    written = await store_version(ctx, uow, patched, current, method="PATCH",
                                  base_check="done")
    return Result(200, stored=written.stored, warnings=written.warnings)


def _still_the_same(patched: Any, rtype: str, resource_id: str) -> None:
    if not isinstance(patched, dict) or patched.get("resourceType") != rtype:
        raise ProfileViolation(f"the patch would turn the {rtype} into something else",
                               expression="resourceType")
    if patched.get("id") != resource_id:
        raise ProfileViolation("a patch may not change or remove the resource's id",
                               expression=f"{rtype}.id")


async def patch(ctx: ServerContext, rtype: str, resource_id: str, document: PatchDocument,
                if_match: str | None = None) -> Result:
    return await retrying(
        ctx, lambda uow: patch_in(ctx, uow, rtype, resource_id, document, if_match))


async def conditional_patch(ctx: ServerContext, rtype: str, query: str,
                            document: PatchDocument, if_match: str | None = None) -> Result:
    """Patch the one resource the search matches: none → 404, several → 412."""

    async def work(uow: UnitOfWork) -> Result:
        await uow.lock(f"{rtype}?{query}")
        ids = await find_ids(uow, rtype, query_params(query), registry=ctx.search)
        if len(ids) > 1:
            raise PreconditionFailed(f"the conditional patch matched {len(ids)} resources")
        if not ids:
            raise NotFound(f"the conditional patch '{rtype}?{query}' matched nothing")
        return await patch_in(ctx, uow, rtype, ids[0], document, if_match)

    return await retrying(ctx, work)
