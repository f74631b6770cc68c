"""Small pure helpers: pattern matching, codes of a coded value, reference target types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["matches_pattern", "binding_codes", "reference_type", "values_at"]


def matches_pattern(value: Any, pattern: Any) -> bool:
    """FHIR pattern[x] semantics: every part of the pattern is present in the value."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and matches_pattern(value[k], p) for k, p in pattern.items()
        )
    if isinstance(pattern, list):
        # each pattern item must be matched by some value item
        return isinstance(value, list) and all(
            any(matches_pattern(v, p) for v in value) for p in pattern
        )
    return bool(value == pattern)


def binding_codes(value: Any) -> list[tuple[str | None, str]] | None:
    """(system, code) pairs of a code, Coding or CodeableConcept; None if not coded."""
    if isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, dict):
        return None
    if "coding" in value or "text" in value:
        return [(c.get("system"), c["code"]) for c in value.get("coding", []) if "code" in c]
    if "code" in value:
        return [(value.get("system"), value["code"])]
    return None


def values_at(value: Any, path: tuple[str, ...]) -> list[Any]:
    """Every value reached by following JSON keys along ``path`` (lists flattened)."""
    current = [value]
    for step in path:
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and step in item:
                found = item[step]
                nxt.extend(found if isinstance(found, list) else [found])
        current = nxt
    return current


def reference_type(ref: Mapping[str, Any], root: Mapping[str, Any]) -> str | None:
    """The resource type a Reference points at, when it can be known without I/O."""
    literal = ref.get("reference")
    if isinstance(literal, str):
        if literal.startswith("#"):
            for contained in root.get("contained", []):
                if contained.get("id") == literal[1:]:
                    return str(contained.get("resourceType"))
            return None
        if literal.startswith(("urn:uuid:", "urn:oid:")):
            return ref.get("type")  # a transaction placeholder says nothing about the type
        if "?" in literal:  # conditional reference: "Patient?identifier=..."
            return literal.split("?", 1)[0].rsplit("/", 1)[-1] or None
        parts = literal.rstrip("/").split("/")
        if len(parts) >= 4 and parts[-2] == "_history":
            parts = parts[:-2]
        if len(parts) >= 2:
            return parts[-2]
        return None
    kind = ref.get("type")
    return kind if isinstance(kind, str) else None
