"""Turn a request body into a checked resource: base validation, then profiles."""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.errors import Issue, ProfileViolation
from eolc_fhir.fhir.parse import parse_resource
from eolc_fhir.services.context import ServerContext

__all__ = ["read_body", "check_profiles"]


def read_body(ctx: ServerContext, body: bytes, expected_type: str | None) -> dict[str, Any]:
    """Parse and base-validate a request body (400 on any structural problem)."""
    s = ctx.settings
    return parse_resource(
        body,
        expected_type=expected_type,
        max_depth=s.max_json_depth,
        max_array_length=s.max_array_length,
    )


def check_profiles(ctx: ServerContext, resource: dict[str, Any]) -> list[Issue]:
    """Profile stage: raise 422 on errors, return the warnings."""
    if ctx.validator is None:
        return []
    meta = resource.get("meta")
    if isinstance(meta, dict) and "lastUpdated" in meta:
        # The write sets a new lastUpdated: rules measured from "the last change"
        # (the ACP review date) must not use the one the client sent back.
        meta_now = {k: v for k, v in meta.items() if k != "lastUpdated"}
        resource = {**resource, "meta": meta_now} if meta_now else \
            {k: v for k, v in resource.items() if k != "meta"}
    issues: list[Issue] = ctx.validator.validate(resource)
    errors = [i for i in issues if i.is_error]
    if errors:
        raise ProfileViolation(issues=issues)
    return issues
