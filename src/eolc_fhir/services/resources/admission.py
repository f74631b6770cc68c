"""The validator's door to storage: every resource passes it before it is stored.

    admit(validator, resource, base_check=...)   what is owed of the base stage, then
                                                 the profile stage
    Admitted                               a resource that passed, with its warnings

``store_version`` and ``store_new_versions`` (writes.py) admit every resource
they are given before they write anything, so no path can store a resource
the validator has not passed: errors raise (400 base, 422 profile) and the
unit of work rolls back. The profile stage always runs; ``base_check`` only says
how much of the base stage (``fhir.parse.check_resource``) is still owed, so
that it runs once per write:

    "full"       the strict walk: a resource from anywhere (the default)
    "structure"  the same walk: resources the server builds itself (Provenance,
                 a Subscription's status); the name stays from when "full" added
                 the R4B model pass, which only $validate runs now (fhir/parse.py)
    "done"       read_body / parse_resource / check_resource already ran on
                 this very dict (REST bodies, Bundle entries, loader workers)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from eolc_fhir.fhir.errors import Issue, ProfileViolation
from eolc_fhir.fhir.parse import check_resource
from eolc_fhir.validation import ProfileSet

__all__ = ["Admitted", "BaseCheck", "admit"]

BaseCheck = Literal["full", "structure", "done"]


@dataclass(frozen=True, slots=True)
class Admitted:
    """A resource the validator passed, and its warnings. Made by ``admit`` only: the
    writes take these as they are (e.g. from the demo loader's worker processes)."""

    resource: dict[str, Any]
    warnings: list[Issue]


def admit(validator: ProfileSet | None, resource: dict[str, Any], *,
          base_check: BaseCheck = "full") -> Admitted:
    """Run what the write still owes of the base stage, then the profile stage.

    ``InvalidRequest`` (400) on a base error, ``ProfileViolation`` (422) on a profile
    error; otherwise the resource with its warnings. ``validator`` None: no profiles
    (only contexts built by hand in tests; the server refuses to start without them).
    """
    if base_check != "done":
        check_resource(resource)
    if validator is None:
        return Admitted(resource, [])
    issues = validator.validate(_without_last_updated(resource))
    if any(i.is_error for i in issues):
        raise ProfileViolation(issues=issues)
    return Admitted(resource, issues)


def _without_last_updated(resource: dict[str, Any]) -> Mapping[str, Any]:
    """The write sets a new lastUpdated: rules measured from "the last change" (the ACP
    review date) must not use one the client sent back."""
    meta = resource.get("meta")
    if not isinstance(meta, dict) or "lastUpdated" not in meta:
        return resource
    meta_now = {k: v for k, v in meta.items() if k != "lastUpdated"}
    if meta_now:
        return {**resource, "meta": meta_now}
    return {k: v for k, v in resource.items() if k != "meta"}
