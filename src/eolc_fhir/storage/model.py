"""Plain data that crosses the storage boundary (no SQLAlchemy here).

``search/`` produces ``IndexRows`` at write time from the parameter
registry; the unit of work stores them next to the resource.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ids_by_type",
    "StoredResource",
    "PageRow",
    "Row",
    "TokenRow",
    "StringRow",
    "ReferenceRow",
    "DateRow",
    "NumberRow",
    "QuantityRow",
    "UriRow",
    "IndexRows",
    "TextRow",
]


@dataclass(frozen=True, slots=True)
class StoredResource:
    """One version of a resource as stored: the bytes a read returns."""

    resource_type: str
    id: str
    version: int
    last_updated_us: int  # microseconds since the Unix epoch, UTC
    deleted: bool
    content: bytes | None  # canonical JSON; None for a deletion
    method: str = "PUT"  # POST / PUT / DELETE, for history entries


@dataclass(frozen=True, slots=True)
class PageRow:
    """One search match: its id, stored bytes and keyset position (for cursors)."""

    res_id: str
    content: bytes
    keys: tuple[Any, ...]  # the keyset position of this row (for cursors)


@dataclass(frozen=True, slots=True)
class Row:
    """A current, live resource version: what $wishes and $everything need of it."""

    resource_type: str
    id: str
    version: int
    last_updated_us: int
    content: bytes


@dataclass(frozen=True, slots=True)
class TokenRow:
    param: str
    system: str | None
    code: str | None
    text: str | None = None  # normalised display / CodeableConcept.text for :text


@dataclass(frozen=True, slots=True)
class StringRow:
    param: str
    value_norm: str  # lower-case, accents removed: prefix/contains search
    value_exact: str


@dataclass(frozen=True, slots=True)
class TextRow:
    param: str  # _text (the narrative) or _content (the whole resource)
    value_norm: str  # its words, normalised, one space apart, padded with a space


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    param: str
    target_type: str | None
    target_id: str | None
    url: str | None = None  # absolute / canonical / logical references


@dataclass(frozen=True, slots=True)
class DateRow:
    param: str
    low_us: int  # inclusive lower bound, microseconds since epoch
    high_us: int  # inclusive upper bound


@dataclass(frozen=True, slots=True)
class NumberRow:
    param: str
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class QuantityRow:
    param: str
    system: str | None
    code: str | None
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class UriRow:
    param: str
    value: str


@dataclass
class IndexRows:
    """Everything one resource version contributes to the search indexes."""

    tokens: list[TokenRow] = field(default_factory=list)
    strings: list[StringRow] = field(default_factory=list)
    references: list[ReferenceRow] = field(default_factory=list)
    dates: list[DateRow] = field(default_factory=list)
    numbers: list[NumberRow] = field(default_factory=list)
    quantities: list[QuantityRow] = field(default_factory=list)
    uris: list[UriRow] = field(default_factory=list)
    texts: list[TextRow] = field(default_factory=list)


def ids_by_type(keys: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """(type, id) keys grouped by type, for one ``res_type = ? AND res_id IN (...)``
    query per type: a row-value IN over both columns makes SQLite scan the table."""
    grouped: dict[str, list[str]] = {}
    for rtype, rid in keys:
        grouped.setdefault(rtype, []).append(rid)
    return grouped
