"""Evaluate a search plan against one resource in memory (subscription filters).

The resource is indexed exactly as at write time and the plan's tests are
applied to those rows with the same semantics ``storage/search_sql`` uses,
so the matcher and the database agree by construction.
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search.parse import parse_search
from eolc_fhir.search.registry import SearchRegistry
from eolc_fhir.search.values import date_range
from eolc_fhir.storage.model import IndexRows
from eolc_fhir.storage.query import (
    Chain,
    Clause,
    Criterion,
    Either,
    Has,
    IdTest,
    InList,
    LastUpdatedTest,
    Missing,
    QuantityTest,
    Query,
    RangeTest,
    ReferenceTest,
    StringTest,
    Test,
    TokenTest,
    UriTest,
)

__all__ = ["matches", "query_matches", "range_holds", "needs_database"]

_ROWS_OF_KIND = {
    "token": "tokens", "string": "strings", "reference": "references", "date": "dates",
    "number": "numbers", "quantity": "quantities", "uri": "uris", "text": "texts",
}


def matches(registry: SearchRegistry, resource: dict[str, Any], resource_type: str,
            params: list[tuple[str, str]]) -> bool:
    """Whether one resource meets search parameters, without a database."""
    if resource.get("resourceType") != resource_type:
        return False
    parsed = parse_search(registry, resource_type, params)
    return query_matches(parsed.query, resource, registry.extract(resource))


def query_matches(query: Query, resource: dict[str, Any], rows: IndexRows) -> bool:
    return all(_clause(c, resource, rows) for c in query.clauses)


def needs_database(query: Query) -> bool:
    """Whether a clause looks beyond the resource itself (chains, ``_has``, ``_list``)."""
    return any(_beyond(c) for c in query.clauses)


def _beyond(clause: Clause) -> bool:
    if isinstance(clause, Either):
        return any(_beyond(c) for branch in clause.branches for c in branch)
    return isinstance(clause, Chain | Has | InList)


def _clause(clause: Clause, resource: dict[str, Any], rows: IndexRows) -> bool:
    if isinstance(clause, Criterion):
        mine = [r for r in getattr(rows, _ROWS_OF_KIND[clause.kind]) if r.param == clause.param]
        hit = any(_test(t, r) for r in mine for t in clause.tests)
        return not hit if clause.negate else hit
    if isinstance(clause, Missing):
        has = any(r.param == clause.param for r in getattr(rows, _ROWS_OF_KIND[clause.kind]))
        return not has if clause.missing else has
    if isinstance(clause, IdTest):
        return (resource.get("id") in clause.ids) != clause.negate
    if isinstance(clause, LastUpdatedTest):
        text = resource.get("meta", {}).get("lastUpdated")
        if not isinstance(text, str):
            return False
        point = date_range(text)[0]  # stored as one instant, like the resources column
        return any(range_holds(t, point, point) for t in clause.tests)
    if isinstance(clause, Either):
        return any(all(_clause(c, resource, rows) for c in branch) for branch in clause.branches)
    if isinstance(clause, Chain | Has | InList):
        raise InvalidRequest("chained parameters, _has and _list need the database",
                             code="not-supported")
    raise TypeError(clause)


def _test(test: Test, row: Any) -> bool:
    if isinstance(test, TokenTest):
        return _token(test, row)
    if isinstance(test, StringTest):
        if test.mode == "exact":
            return bool(row.value_exact == test.value)
        if test.mode == "contains":
            return test.value in row.value_norm
        if test.mode == "suffix":
            return bool(row.value_norm.endswith(test.value))
        return bool(row.value_norm.startswith(test.value))
    if isinstance(test, ReferenceTest):
        if test.url is not None:
            return bool(row.url == test.url)
        return bool(row.target_id == test.target_id
                    and (not test.target_types or row.target_type in test.target_types))
    if isinstance(test, RangeTest):
        if hasattr(row, "low_us"):
            return range_holds(test, row.low_us, row.high_us)
        return number_holds(test, row.value)
    if isinstance(test, QuantityTest):
        if test.code is not None and row.code != test.code:
            return False
        if test.system is not None and row.system != test.system:
            return False
        return number_holds(test.range, row.value)
    assert isinstance(test, UriTest)
    if test.mode == "below":
        return bool(row.value.startswith(test.value))
    if test.mode == "above":
        return test.value.startswith(row.value)
    return bool(row.value == test.value)


def _token(test: TokenTest, row: Any) -> bool:
    if test.text is not None:
        return row.text is not None and row.text.startswith(test.text)
    if test.code is not None and row.code != test.code:
        return False
    if test.any_system:
        return True
    return bool(row.system == test.system)


def range_holds(test: RangeTest, low: float, high: float) -> bool:
    """Date semantics (R4 §3.1.1.4.2): the row's range against the value's range."""
    p, q = test.low, test.high
    contained = low >= p and high <= q
    op = test.op
    if op == "eq":
        return contained
    if op == "ne":
        return not contained
    if op == "gt":
        return high > q
    if op == "lt":
        return low < p
    if op == "ge":
        return high > q or contained
    if op == "le":
        return low < p or contained
    if op == "sa":
        return low > q
    if op == "eb":
        return high < p
    return low <= q and high >= p  # ap: overlaps the widened range


def number_holds(test: RangeTest, value: float) -> bool:
    """Number semantics: eq/ne use the value's implicit precision range [low, high)."""
    op, v = test.op, test.value
    if op == "eq":
        return test.low <= value < test.high
    if op == "ne":
        return not (test.low <= value < test.high)
    if op in ("gt", "sa"):
        return value > v
    if op in ("lt", "eb"):
        return value < v
    if op == "ge":
        return value >= v
    if op == "le":
        return value <= v
    return test.low <= value <= test.high  # ap
