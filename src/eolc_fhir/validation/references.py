"""References inside what is validated: contained (#id) and Bundle entries (fullUrl, urn:uuid)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from eolc_fhir.fhir.errors import Issue

__all__ = ["Resolver", "references_in", "reference_issues"]

_PLACEHOLDERS = ("urn:uuid:", "urn:oid:")


@dataclass(frozen=True, slots=True)
class Resolver:
    """Finds the resource a literal reference points at, without I/O."""

    contained: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # id -> resource
    entries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # fullUrl -> resource
    in_bundle: bool = False

    @classmethod
    def of(cls, resource: Mapping[str, Any], bundle: Resolver | None = None) -> Resolver:
        """For ``resource``: its own contained resources, and the entries of its Bundle."""
        listed = resource.get("contained")
        contained = (
            {str(c.get("id")): c for c in listed if isinstance(c, dict)}
            if isinstance(listed, list)
            else {}
        )
        entries = bundle.entries if bundle else {}
        if resource.get("resourceType") == "Bundle":
            entries = {}
            for entry in resource.get("entry", []):
                if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
                    _index_entry(entries, entry)
        in_bundle = bundle is not None or resource.get("resourceType") == "Bundle"
        return cls(contained, entries, in_bundle)

    def resolve(self, literal: str) -> Mapping[str, Any] | None:
        if literal.startswith("#"):
            return self.contained.get(literal[1:])
        if not self.entries:  # outside a Bundle only #id references resolve
            return None
        found = self.entries.get(literal)
        if found is None and "/" in literal and not literal.startswith(_PLACEHOLDERS):
            parts = literal.rstrip("/").split("/")
            if len(parts) >= 4 and parts[-2] == "_history":
                parts = parts[:-2]
            found = self.entries.get("/".join(parts[-2:]))
        return found


def _index_entry(entries: dict[str, Mapping[str, Any]], entry: Mapping[str, Any]) -> None:
    resource = entry["resource"]
    full_url = entry.get("fullUrl")
    if isinstance(full_url, str):
        entries[full_url] = resource
    if "resourceType" in resource and "id" in resource:
        # relative references ("Patient/1") resolve against the entries' fullUrls (RESTful ones)
        entries.setdefault(f"{resource['resourceType']}/{resource['id']}", resource)


def references_in(node: Any, expr: str, top: bool = True) -> Iterator[tuple[str, str]]:
    """(literal reference, FHIRPath of the Reference) in a resource and its contained
    resources; not in the resources a Bundle or Parameters carries (each is checked alone)."""
    if isinstance(node, dict):
        if not top and "resourceType" in node:
            return
        literal = node.get("reference")
        if isinstance(literal, str):
            yield literal, expr
        for key, value in node.items():
            if key == "contained" and top:
                for index, item in enumerate(value if isinstance(value, list) else []):
                    yield from references_in(item, f"{expr}.contained[{index}]", True)
            elif isinstance(value, dict | list) and not key.startswith("_"):
                yield from references_in(value, f"{expr}.{key}", False)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from references_in(item, f"{expr}[{index}]", top)


def reference_issues(resource: Mapping[str, Any], expr: str, resolver: Resolver) -> list[Issue]:
    """#id references must resolve (and contained resources be referred to: dom-3);
    urn:uuid references in a Bundle must name an entry's fullUrl."""
    contained = resource.get("contained")
    if not contained and not resolver.in_bundle and b'"#' not in orjson.dumps(resource):
        # a cheap pre-filter (a few µs): no "#..." string at all means no local reference
        return []
    issues: list[Issue] = []
    local: set[str] = set()
    for literal, where in references_in(resource, expr):
        if literal.startswith("#"):
            local.add(literal[1:])
            if literal != "#" and resolver.resolve(literal) is None:
                issues.append(
                    Issue(
                        "error",
                        "not-found",
                        f"No contained resource {literal}",
                        (f"{where}.reference",),
                    )
                )
        elif resolver.in_bundle and literal.startswith(_PLACEHOLDERS):
            if resolver.resolve(literal) is None:
                issues.append(
                    Issue(
                        "error",
                        "not-found",
                        f"{literal} is not the fullUrl of any entry in the Bundle",
                        (f"{where}.reference",),
                    )
                )
    for index, item in enumerate(contained if isinstance(contained, list) else []):
        if isinstance(item, dict) and item.get("id") not in local and "" not in local:
            issues.append(
                Issue(
                    "error",
                    "invariant",
                    "dom-3: a contained resource must be referred to from its container",
                    (f"{expr}.contained[{index}]",),
                )
            )
    return issues
