"""The search parameter registry: one table drives indexing, planning and the matcher."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from eolc_fhir.search import extract as ex
from eolc_fhir.search.composite import COMPOSITES, Composite, composite_rows
from eolc_fhir.search.expression import CompiledExpression, compile_expression
from eolc_fhir.search.fulltext import text_rows
from eolc_fhir.search.modifiers import Codes
from eolc_fhir.search.standard import STANDARD_PARAMS, STANDARD_URL
from eolc_fhir.storage.model import IndexRows

__all__ = ["SearchParam", "SearchRegistry", "KINDS", "COMMON_BASE"]

KINDS = ("token", "string", "reference", "date", "number", "quantity", "uri")
COMMON_BASE = "Resource"
# _id and _lastUpdated are columns of the resources table; they need no index rows.
_COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})


@dataclass(frozen=True, slots=True)
class SearchParam:
    """One search parameter as the engine uses it."""

    code: str
    kind: str
    base: str  # a resource type, or "Resource" for every type
    expression: str
    targets: tuple[str, ...] = ()  # reference target types; () means any
    url: str = ""
    compiled: CompiledExpression | None = None

    def values(self, resource: dict[str, Any]) -> list[Any]:
        assert self.compiled is not None
        return self.compiled.evaluate(resource)


def _make(code: str, kind: str, base: str, expression: str, targets: Sequence[str],
          url: str) -> SearchParam:
    if kind not in KINDS:
        raise ValueError(f"search parameter {base}.{code}: unsupported type {kind}")
    clean = tuple(t for t in targets if t != "Any")
    return SearchParam(code, kind, base, expression, clean, url, compile_expression(expression))


def _parse_standard(text: str) -> Iterable[SearchParam]:
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        head, _, targets = line.partition(" -> ")
        base, code, kind, expression = head.split(" ", 3)
        yield _make(code, kind, base, expression, targets.split(",") if targets else (),
                    f"{STANDARD_URL}{base}-{code}")


def _from_resource(doc: dict[str, Any]) -> list[SearchParam]:
    """Our SearchParameter resources (one per code, one or more bases)."""
    if doc.get("resourceType") != "SearchParameter":
        return []
    if doc.get("status") == "retired":
        return []
    return [
        _make(doc["code"], doc["type"], base, doc["expression"], doc.get("target", ()),
              doc.get("url", ""))
        for base in doc.get("base", [])
    ]


_TOKEN_DOC = ("modifiers :not, :text, :missing, :in and :not-in (a ValueSet this server "
              "holds), :below and :above (hierarchies of this server's CodeSystems), "
              ":of-type on identifiers (type-system|type-code|value)")
# R4 defines SearchParameter resources for _text and _content; _list and _filter are
# described on its search page only, so they carry no definition.
_SPECIAL = (
    {"name": "_text", "definition": f"{STANDARD_URL}DomainResource-text", "type": "string",
     "documentation": "words or phrases of the narrative (case and accents ignored)"},
    {"name": "_content", "definition": f"{STANDARD_URL}Resource-content", "type": "string",
     "documentation": "words or phrases anywhere in the resource's text"},
    {"name": "_list", "type": "string", "documentation": "the items of the List with this id"},
    {"name": "_filter", "type": "special",
     "documentation": "eq ne co sw ew gt lt ge le on search parameters, and / or / parentheses"},
    # ours: the negation of _has, which R4 has no way to say
    {"name": "_hasnot", "type": "special",
     "documentation": "_hasnot:[type]:[reference parameter]:[parameter]=[value]: no resource "
                      "of that type matching the parameter refers to this one (the negation "
                      "of _has); chains may end in _has or _hasnot (patient._hasnot:...)"},
)


class SearchRegistry:
    """Parameters by (resource type, code); built once at start-up."""

    codes: Codes | None = None  # the server's terminology, for :in, :not-in, :below, :above

    def __init__(self, params: Iterable[SearchParam]) -> None:
        self._composites: dict[str, list[Composite]] = {}
        for composite in COMPOSITES.values():
            self._composites.setdefault(composite.base, []).append(composite)
        self._common: dict[str, SearchParam] = {}
        self._by_type: dict[str, dict[str, SearchParam]] = {}
        for param in params:
            if param.base == COMMON_BASE:
                self._common[param.code] = param
            else:
                self._by_type.setdefault(param.base, {})[param.code] = param

    @classmethod
    def load(cls, profiles_dir: Path | None = None) -> SearchRegistry:
        """The standard R4 parameters plus ``profiles_dir/SearchParameter-*.json``."""
        params = list(_parse_standard(STANDARD_PARAMS))
        if profiles_dir is not None and profiles_dir.is_dir():
            for path in sorted(profiles_dir.glob("SearchParameter-*.json")):
                params.extend(_from_resource(orjson.loads(path.read_bytes())))
        return cls(params)

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        found = self._by_type.get(resource_type, {}).get(code)
        return found if found is not None else self._common.get(code)

    def composite(self, resource_type: str, code: str) -> Composite | None:
        return COMPOSITES.get((resource_type, code))

    def params_for(self, resource_type: str) -> list[SearchParam]:
        merged = {**self._common, **self._by_type.get(resource_type, {})}
        return [merged[code] for code in sorted(merged)]

    def types_with(self, code: str) -> list[str]:
        """Resource types that have a parameter of this code (for chains and _type)."""
        return sorted(t for t, params in self._by_type.items() if code in params)

    def extract(self, resource: dict[str, Any]) -> IndexRows:
        """Every index row one resource contributes (the unit of work's indexer)."""
        rows = IndexRows()
        resource_type = resource.get("resourceType", "")
        for param in self.params_for(resource_type):
            if param.code in _COLUMN_PARAMS:
                continue
            ex.add_rows(rows, param.code, param.kind, param.values(resource))
        for composite in self._composites.get(resource_type, ()):
            composite_rows(composite, resource, rows)
        rows.texts.extend(text_rows(resource))
        return rows

    def capability_params(self, resource_type: str) -> list[dict[str, Any]]:
        """CapabilityStatement.rest.resource.searchParam entries for a type."""
        out = []
        for param in self.params_for(resource_type):
            entry = {"name": param.code, "definition": param.url, "type": param.kind}
            if param.base == COMMON_BASE:
                entry["definition"] = f"{STANDARD_URL}Resource-{param.code.lstrip('_')}"
            if param.kind == "token":
                entry["documentation"] = _TOKEN_DOC
            out.append(entry)
        out += [{"name": c.code, "definition": c.url, "type": "composite",
                 "documentation": "two values joined by '$' (code$value), matched on the "
                                  "same element"}
                for c in self._composites.get(resource_type, ())]
        out += [dict(entry) for entry in _SPECIAL]
        return out

    def capability_includes(self, resource_type: str) -> list[str]:
        """CapabilityStatement.rest.resource.searchInclude: ``Type:param`` per reference."""
        return [f"{resource_type}:{p.code}" for p in self.params_for(resource_type)
                if p.kind == "reference"]

    def capability_revincludes(self, resource_type: str) -> list[str]:
        """searchRevInclude: reference parameters of other types that can point here."""
        out = []
        for source in sorted(self._by_type):
            for param in self.params_for(source):
                if param.kind == "reference" and (not param.targets
                                                  or resource_type in param.targets):
                    out.append(f"{source}:{param.code}")
        return out
