"""Parse one search value of a given parameter type into plan tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search.extract import split_reference
from eolc_fhir.search.values import DateFormatError, date_range, normalise, number_range
from eolc_fhir.storage.query import (
    QuantityTest,
    RangeTest,
    ReferenceTest,
    StringTest,
    TokenTest,
    UriTest,
)

__all__ = [
    "split_values",
    "token_test",
    "string_test",
    "reference_test",
    "date_test",
    "number_test",
    "quantity_test",
    "uri_test",
    "PREFIXES",
]

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
_PREFIX_RE = re.compile(r"^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-+\d.])")
_SPLIT_OR = re.compile(r"(?<!\\),")
_SPLIT_PIPE = re.compile(r"(?<!\\)\|")


def _unescape(text: str) -> str:
    return text.replace("\\,", ",").replace("\\|", "|").replace("\\$", "$").replace("\\\\", "\\")


def split_values(raw: str) -> list[str]:
    """A parameter value's OR list (commas not escaped with a backslash)."""
    return [v for v in _SPLIT_OR.split(raw)]


def _pipe(value: str) -> list[str]:
    return [_unescape(p) for p in _SPLIT_PIPE.split(value)]


def token_test(value: str, *, text: bool = False) -> TokenTest:
    if text:
        return TokenTest(None, None, True, normalise(_unescape(value)))
    parts = _pipe(value)
    if len(parts) == 1:
        return TokenTest(parts[0], None, True)
    if len(parts) != 2:
        raise InvalidRequest(f"invalid token {value!r}")
    system, code = parts
    return TokenTest(code or None, system or None, False)


def string_test(value: str, mode: str) -> StringTest:
    raw = _unescape(value)
    if mode == "exact":
        return StringTest(raw, "exact")
    return StringTest(normalise(raw), "contains" if mode == "contains" else "prefix")


def reference_test(value: str, type_modifier: str | None, base_url: str) -> ReferenceTest:
    raw = _unescape(value)
    base = base_url.rstrip("/") + "/" if base_url else ""
    if base and raw.startswith(base):
        raw = raw[len(base):]
    if "://" in raw or raw.startswith("urn:"):
        return ReferenceTest(None, (), raw.split("|")[0])
    if "/" in raw:
        target_type, target_id = split_reference(raw)
        if target_type is None or (type_modifier and type_modifier != target_type):
            raise InvalidRequest(f"invalid reference {value!r}")
        return ReferenceTest(target_id, (target_type,))
    return ReferenceTest(raw, (type_modifier,) if type_modifier else ())


def _prefix(value: str) -> tuple[str, str]:
    match = _PREFIX_RE.match(value)
    if match:
        return match.group(1), value[2:]
    return "eq", value


def date_test(value: str, now: datetime | None = None) -> RangeTest:
    op, text = _prefix(value)
    try:
        low, high = date_range(text)
    except DateFormatError as exc:
        raise InvalidRequest(f"invalid date {value!r}") from exc
    if op == "ap":
        now_us = int(((now or datetime.now(UTC)).timestamp()) * 1_000_000)
        slack = abs(now_us - low) // 10
        return RangeTest("ap", low - slack, high + slack)
    return RangeTest(op, low, high)  # type: ignore[arg-type]


def number_test(value: str) -> RangeTest:
    op, text = _prefix(value)
    try:
        number, low, high = number_range(text)
    except ValueError as exc:
        raise InvalidRequest(f"invalid number {value!r}") from exc
    if op == "ap":
        slack = abs(number) / 10
        return RangeTest("ap", number - slack, number + slack, number)
    return RangeTest(op, low, high, number)  # type: ignore[arg-type]


def quantity_test(value: str) -> QuantityTest:
    parts = _pipe(value)
    if len(parts) not in (1, 3):
        raise InvalidRequest(f"invalid quantity {value!r}")
    number = number_test(parts[0])
    if len(parts) == 1:
        return QuantityTest(number, None, None)
    return QuantityTest(number, parts[1] or None, parts[2] or None)


def uri_test(value: str, modifier: str | None) -> UriTest:
    mode = modifier if modifier in ("below", "above") else "eq"
    return UriTest(_unescape(value), mode)  # type: ignore[arg-type]
