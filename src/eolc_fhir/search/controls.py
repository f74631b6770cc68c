"""Search result parameters: _count, _sort, _include, _total, _summary, _elements, paging."""

from __future__ import annotations

from dataclasses import dataclass, field

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search.registry import SearchRegistry
from eolc_fhir.storage.query import SortKey

__all__ = ["Controls", "Include", "parse_controls", "RESULT_PARAMS", "DEFAULT_COUNT", "MAX_COUNT"]

DEFAULT_COUNT = 50
MAX_COUNT = 1000
RESULT_PARAMS = frozenset({
    "_count", "_sort", "_include", "_revinclude", "_total", "_summary", "_elements",
    "_cursor", "_format", "_pretty", "_type",
})
_TOTALS = ("none", "estimate", "accurate")
_SUMMARIES = ("true", "false", "text", "data", "count")


@dataclass(frozen=True)
class Include:
    """``_include=Source:param[:Target]`` (or ``_revinclude``); param ``*`` means all."""

    source_type: str
    param: str
    target_type: str | None
    iterate: bool = False


@dataclass
class Controls:
    count: int = DEFAULT_COUNT
    sort: tuple[SortKey, ...] = ()
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    total: str | None = None
    summary: str | None = None
    elements: tuple[str, ...] = ()
    cursor: str | None = None


def parse_controls(registry: SearchRegistry, resource_type: str,
                   params: list[tuple[str, str]], *, default_count: int = DEFAULT_COUNT,
                   max_count: int = MAX_COUNT) -> Controls:
    controls = Controls(count=min(default_count, max_count))
    for name, value in params:
        base, _, modifier = name.partition(":")
        if base == "_count":
            controls.count = min(_count(value), max_count)
        elif base == "_sort":
            controls.sort = tuple(_sort_key(registry, resource_type, v) for v in value.split(","))
        elif base in ("_include", "_revinclude"):
            spec = _include(registry, value, iterate=modifier == "iterate")
            (controls.includes if base == "_include" else controls.revincludes).append(spec)
        elif base == "_total":
            controls.total = _choice(name, value, _TOTALS)
        elif base == "_summary":
            controls.summary = _choice(name, value, _SUMMARIES)
        elif base == "_elements":
            controls.elements = tuple(e.strip() for e in value.split(",") if e.strip())
        elif base == "_cursor":
            controls.cursor = value
    return controls


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError as exc:
        raise InvalidRequest(f"_count must be a whole number, not {value!r}") from exc
    if number < 0:
        raise InvalidRequest("_count must not be negative")
    return number


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidRequest(f"{name} must be one of {', '.join(allowed)}")
    return value


def _sort_key(registry: SearchRegistry, resource_type: str, text: str) -> SortKey:
    descending = text.startswith("-")
    code = text.lstrip("-").strip()
    if code in ("_id", "_lastUpdated"):
        return SortKey(code, None, descending)
    param = registry.get(resource_type, code)
    if param is None:
        raise InvalidRequest(f"cannot sort {resource_type} by unknown parameter {code!r}")
    return SortKey(code, param.kind, descending)


def _include(registry: SearchRegistry, value: str, *, iterate: bool) -> Include:
    if value == "*":
        return Include("*", "*", None, iterate)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidRequest(f"invalid include {value!r}; use Type:param[:Target]")
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if code != "*":
        param = registry.get(source, code)
        if param is None or param.kind != "reference":
            raise InvalidRequest(f"{source}:{code} is not a reference parameter")
    return Include(source, code, target, iterate)
