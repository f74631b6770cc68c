"""What the CapabilityStatement says of `$export`: the three operations, and the IG it meets."""

from __future__ import annotations

from typing import Any

from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.export.spec import BULK_CANONICAL, DEFINITIONS, GROUP, PATIENT, SYSTEM

__all__ = ["install", "BULK_DATA_STATEMENT"]

BULK_DATA_STATEMENT = f"{BULK_CANONICAL}/CapabilityStatement/bulk-data"
_BY_TYPE = {"Patient": PATIENT, "Group": GROUP}


def _operation(level: str) -> dict[str, Any]:
    return {"name": "export", "definition": DEFINITIONS[level]}


def _per_type(rtype: str, entry: dict[str, Any]) -> None:
    level = _BY_TYPE.get(rtype)
    if level is not None:
        entry.setdefault("operation", []).append(_operation(level))


def _system(statement: dict[str, Any]) -> None:
    statement.setdefault("instantiates", []).append(BULK_DATA_STATEMENT)
    for rest in statement.get("rest") or []:
        rest.setdefault("operation", []).append(_operation(SYSTEM))


def install(ctx: ServerContext) -> None:
    ctx.hooks.capability_contributors.append(_per_type)
    ctx.hooks.statement_contributors.append(_system)
