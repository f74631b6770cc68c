"""Resources inside a resource: contained ones, Bundle entries, Parameters values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from eolc_fhir.validation.scope import Scope

__all__ = ["inner_resources"]


def inner_resources(
    resource: Mapping[str, Any], expr: str, scope: Scope
) -> Iterator[tuple[Mapping[str, Any], str, Scope, bool]]:
    """(resource, FHIRPath, scope, is contained) for each resource carried by this one."""
    for index, item in enumerate(resource.get("contained") or []):
        if isinstance(item, dict):
            yield item, f"{expr}.contained[{index}]", scope.contained(item), True
    kind = resource.get("resourceType")
    if kind == "Bundle":
        for index, entry in enumerate(resource.get("entry") or []):
            item = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(item, dict):
                yield item, f"{expr}.entry[{index}].resource", scope.entry(item), False
    elif kind == "Parameters":
        yield from _parameters(resource.get("parameter"), f"{expr}.parameter", scope)


def _parameters(
    parameters: Any, expr: str, scope: Scope
) -> Iterator[tuple[Mapping[str, Any], str, Scope, bool]]:
    for index, parameter in enumerate(parameters if isinstance(parameters, list) else []):
        if not isinstance(parameter, dict):
            continue
        item = parameter.get("resource")
        if isinstance(item, dict):
            yield item, f"{expr}[{index}].resource", scope.entry(item), False
        yield from _parameters(parameter.get("part"), f"{expr}[{index}].part", scope)
