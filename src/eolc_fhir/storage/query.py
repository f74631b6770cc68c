"""A search as plain data: what ``search/`` plans and ``search_sql`` turns into SQL.

A ``Query`` is the AND of its clauses; a ``Criterion`` is the OR of its tests
on one parameter's index rows. Nothing here knows FHIR syntax or SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "TokenTest",
    "StringTest",
    "ReferenceTest",
    "RangeTest",
    "QuantityTest",
    "UriTest",
    "Test",
    "Criterion",
    "Missing",
    "IdTest",
    "LastUpdatedTest",
    "Chain",
    "Has",
    "InList",
    "Either",
    "Clause",
    "SortKey",
    "Query",
    "TABLE_OF_KIND",
]

TABLE_OF_KIND = {
    "token": "idx_token",
    "string": "idx_string",
    "reference": "idx_reference",
    "date": "idx_date",
    "number": "idx_number",
    "quantity": "idx_quantity",
    "uri": "idx_uri",
    "text": "idx_text",  # _text / _content: StringTest "contains" on padded word lists
}

Op = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]


@dataclass(frozen=True, slots=True)
class TokenTest:
    code: str | None  # None: any code (``system|``)
    system: str | None
    any_system: bool  # False with system None means "no system" (``|code``)
    text: str | None = None  # :text, a normalised prefix of display / text


@dataclass(frozen=True, slots=True)
class StringTest:
    value: str  # normalised for prefix/contains, as given for exact
    mode: Literal["prefix", "exact", "contains", "suffix"]


@dataclass(frozen=True, slots=True)
class ReferenceTest:
    target_id: str | None
    target_types: tuple[str, ...]  # () means any type
    url: str | None = None


@dataclass(frozen=True, slots=True)
class RangeTest:
    """Date (microseconds, inclusive bounds) or number (value, high exclusive)."""

    op: Op
    low: float
    high: float
    value: float = 0.0  # the number itself, for ap on numbers


@dataclass(frozen=True, slots=True)
class QuantityTest:
    range: RangeTest
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class UriTest:
    value: str
    mode: Literal["eq", "below", "above"] = "eq"


Test = TokenTest | StringTest | ReferenceTest | RangeTest | QuantityTest | UriTest


@dataclass(frozen=True, slots=True)
class Criterion:
    """Rows of ``param`` in ``kind``'s table satisfying any test; ``negate`` for :not."""

    kind: str
    param: str
    tests: tuple[Test, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Missing:
    kind: str
    param: str
    missing: bool


@dataclass(frozen=True, slots=True)
class IdTest:
    ids: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class LastUpdatedTest:
    tests: tuple[RangeTest, ...]


@dataclass(frozen=True, slots=True)
class Chain:
    """Our reference ``param`` points to a resource of one of the targets matching it."""

    param: str
    targets: tuple[Query, ...]  # OR over target types


@dataclass(frozen=True, slots=True)
class Has:
    """Some ``source_type`` resource matching ``source`` refers to us through ``param``
    (``negate``: none does, for ``_hasnot``)."""

    param: str
    source: Query
    negate: bool = False


@dataclass(frozen=True, slots=True)
class InList:
    """``_list``: the resource is an item of List ``list_id``."""

    list_id: str


@dataclass(frozen=True, slots=True)
class Either:
    """``_filter``'s ``or``: at least one branch holds (a branch is the AND of its clauses)."""

    branches: tuple[tuple[Clause, ...], ...]


Clause = Criterion | Missing | IdTest | LastUpdatedTest | Chain | Has | InList | Either


@dataclass(frozen=True, slots=True)
class SortKey:
    """Sort by a parameter (``kind`` None: a resources column, ``_id``/``_lastUpdated``)."""

    param: str
    kind: str | None
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Query:
    resource_type: str
    clauses: tuple[Clause, ...] = ()
    sort: tuple[SortKey, ...] = field(default_factory=tuple)
