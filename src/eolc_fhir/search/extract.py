"""Turn the values an expression selects into index rows, by parameter type."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eolc_fhir.search.expression import reference_type
from eolc_fhir.search.values import MAX_US, MIN_US, DateFormatError, date_range, normalise
from eolc_fhir.storage.model import (
    DateRow,
    IndexRows,
    NumberRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)

__all__ = [
    "token_rows",
    "string_rows",
    "reference_rows",
    "date_rows",
    "number_rows",
    "quantity_rows",
    "uri_rows",
    "split_reference",
    "identifier_param",
    "of_type_param",
    "add_rows",
]

_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def identifier_param(code: str) -> str:
    """Token rows for ``param:identifier`` live under this name."""
    return f"{code}:identifier"


def of_type_param(code: str) -> str:
    """Token rows for ``param:of-type`` live under this name (code ``type-code|value``)."""
    return f"{code}:of-type"


def _of_type_rows(param: str, value: dict[str, Any]) -> Iterator[TokenRow]:
    """An Identifier's type and value, one row per coding of its type."""
    kind, ident = value.get("type"), value.get("value")
    if not isinstance(kind, dict) or not isinstance(ident, str):
        return
    for coding in kind.get("coding", []):
        if isinstance(coding, dict) and isinstance(coding.get("code"), str):
            yield TokenRow(of_type_param(param), coding.get("system"),
                           f"{coding['code']}|{ident}")


def _norm_or_none(text: Any) -> str | None:
    return normalise(text) if isinstance(text, str) and text else None


def token_rows(param: str, values: list[Any]) -> Iterator[TokenRow]:
    for value in values:
        if isinstance(value, bool):
            yield TokenRow(param, None, "true" if value else "false")
        elif isinstance(value, str):
            yield TokenRow(param, None, value)
        elif isinstance(value, dict):
            yield from _token_rows_of(param, value)


def _token_rows_of(param: str, value: dict[str, Any]) -> Iterator[TokenRow]:
    if "coding" in value or ("text" in value and "code" not in value and "value" not in value):
        text = _norm_or_none(value.get("text"))
        codings = [c for c in value.get("coding", []) if isinstance(c, dict)]
        for coding in codings:
            yield TokenRow(param, coding.get("system"), coding.get("code"),
                           text or _norm_or_none(coding.get("display")))
        if not codings and text:
            yield TokenRow(param, None, None, text)
    elif "value" in value:  # Identifier or ContactPoint
        kind = value.get("type")
        type_text = kind.get("text") if isinstance(kind, dict) else None
        yield TokenRow(param, value.get("system"), str(value["value"]), _norm_or_none(type_text))
        yield from _of_type_rows(param, value)
    elif "code" in value or "system" in value:  # Coding
        yield TokenRow(param, value.get("system"), value.get("code"),
                       _norm_or_none(value.get("display")))


def _string_parts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        keys = _ADDRESS_PARTS if ("line" in value or "city" in value or "postalCode" in value
                                  or "country" in value or "district" in value) else _NAME_PARTS
        for key in keys:
            part = value.get(key)
            for item in part if isinstance(part, list) else [part]:
                if isinstance(item, str) and item:
                    yield item


def string_rows(param: str, values: list[Any]) -> Iterator[StringRow]:
    seen: set[str] = set()
    for value in values:
        for text in _string_parts(value):
            if text not in seen:
                seen.add(text)
                yield StringRow(param, normalise(text), text)


def split_reference(ref: str) -> tuple[str | None, str | None]:
    """(type, id) of a relative or absolute literal reference; (None, None) if neither."""
    target_type = reference_type(ref)
    if target_type is None:
        return None, None
    parts = ref.split("?")[0].split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return target_type, parts[-1]


def reference_rows(param: str, values: list[Any]) -> Iterator[ReferenceRow | TokenRow]:
    for value in values:
        if isinstance(value, str):  # canonical
            canonical = value.split("|")[0]
            target_type, target_id = (
                split_reference(canonical) if "/" in canonical else (None, None))
            yield ReferenceRow(param, target_type, target_id, canonical)
        elif isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str) and not ref.startswith("#"):
                target_type, target_id = split_reference(ref)
                url = ref if target_type is None or "://" in ref else None
                yield ReferenceRow(param, target_type, target_id, url)
            elif value:  # a logical (identifier or display only) reference: present for :missing
                yield ReferenceRow(param, None, None, None)
            ident = value.get("identifier")
            if isinstance(ident, dict) and "value" in ident:
                yield TokenRow(identifier_param(param), ident.get("system"), str(ident["value"]))


def _date_bounds(value: Any) -> tuple[int, int] | None:
    try:
        if isinstance(value, str):
            return date_range(value)
        if not isinstance(value, dict):
            return None
        if "start" in value or "end" in value:  # Period
            low = date_range(value["start"])[0] if "start" in value else MIN_US
            high = date_range(value["end"])[1] if "end" in value else MAX_US
            return low, high
        events = value.get("event")
        if isinstance(events, list) and events:  # Timing
            ranges = [date_range(e) for e in events if isinstance(e, str)]
            return min(r[0] for r in ranges), max(r[1] for r in ranges)
        bounds = value.get("repeat", {}).get("boundsPeriod")
        return _date_bounds(bounds) if bounds else None
    except DateFormatError:
        return None


def date_rows(param: str, values: list[Any]) -> Iterator[DateRow]:
    for value in values:
        bounds = _date_bounds(value)
        if bounds is not None:
            yield DateRow(param, bounds[0], bounds[1])


def number_rows(param: str, values: list[Any]) -> Iterator[NumberRow]:
    for value in values:
        if isinstance(value, int | float) and not isinstance(value, bool):
            yield NumberRow(param, float(value), float(value), float(value))


def quantity_rows(param: str, values: list[Any]) -> Iterator[QuantityRow]:
    for value in values:
        if not isinstance(value, dict):
            continue
        if "low" in value or "high" in value:  # Range: index each end that has a value
            for end in (value.get("low"), value.get("high")):
                yield from quantity_rows(param, [end] if end else [])
            continue
        number = value.get("value")
        if isinstance(number, int | float) and not isinstance(number, bool):
            code = value.get("code") or value.get("unit")
            yield QuantityRow(param, value.get("system"), code, float(number), float(number),
                              float(number))


def uri_rows(param: str, values: list[Any]) -> Iterator[UriRow]:
    for value in values:
        if isinstance(value, str):
            yield UriRow(param, value)


def add_rows(rows: IndexRows, param: str, kind: str, values: list[Any]) -> None:
    """Add the index rows of one parameter's values to ``rows``, by the parameter's kind."""
    if not values:
        return
    if kind == "token":
        rows.tokens.extend(token_rows(param, values))
    elif kind == "string":
        rows.strings.extend(string_rows(param, values))
    elif kind == "reference":
        for row in reference_rows(param, values):
            if isinstance(row, TokenRow):
                rows.tokens.append(row)
            else:
                rows.references.append(row)
    elif kind == "date":
        rows.dates.extend(date_rows(param, values))
    elif kind == "number":
        rows.numbers.extend(number_rows(param, values))
    elif kind == "quantity":
        rows.quantities.extend(quantity_rows(param, values))
    else:
        rows.uris.extend(uri_rows(param, values))
