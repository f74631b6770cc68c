"""The CapabilityStatement: exactly the interactions and parameters that work."""

from __future__ import annotations

from typing import Any

from eolc_fhir import __version__
from eolc_fhir.fhir.instant import now_us, to_instant
from eolc_fhir.fhir.models import resource_types
from eolc_fhir.services.context import ServerContext

__all__ = ["capability_statement"]

_TYPE_INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance",
                      "history-type", "create"]
_SYSTEM_INTERACTIONS = ["transaction", "batch", "history-system"]
_VALIDATE = {"name": "validate",
             "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate"}
_TERMINOLOGY = {
    "ValueSet": [
        {"name": "expand", "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"},
        {"name": "validate-code",
         "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code"},
    ],
    "CodeSystem": [
        {"name": "lookup", "definition": "http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup"},
    ],
}


def _resource_entry(ctx: ServerContext, rtype: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "type": rtype,
        "interaction": [{"code": code} for code in _TYPE_INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalUpdate": True,
        "conditionalDelete": "single",
    }
    if ctx.search is not None:
        params = ctx.search.capability_params(rtype)
        if params:
            entry["interaction"].append({"code": "search-type"})
            entry["searchParam"] = params
    if ctx.validator is not None:
        profiles = ctx.validator.profiles_for_type(rtype)
        if profiles:
            entry["supportedProfile"] = profiles
    entry.setdefault("operation", []).append(_VALIDATE)
    entry["operation"] += _TERMINOLOGY.get(rtype, [])
    for contributor in ctx.hooks.capability_contributors:
        contributor(rtype, entry)
    return entry


def capability_statement(ctx: ServerContext, base_url: str) -> dict[str, Any]:
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": [_resource_entry(ctx, t) for t in sorted(resource_types())],
        "interaction": [{"code": code} for code in _SYSTEM_INTERACTIONS],
    }
    if ctx.settings.insecure_dev:
        rest["documentation"] = (
            "WARNING: this server runs with --insecure-dev: no authentication, every caller "
            "may read and write everything. Never use this mode with real patient data."
        )
    statement: dict[str, Any] = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": to_instant(now_us()),
        "kind": "instance",
        "software": {"name": "eolc-fhir", "version": __version__},
        "implementation": {"description": "eolc-fhir: shared end-of-life care record",
                           "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json", "xml", "application/fhir+xml"],
        "rest": [rest],
    }
    for contributor in ctx.hooks.statement_contributors:
        contributor(statement)
    return statement
