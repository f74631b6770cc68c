"""FHIR R4 primitive types: which JSON type carries each, and its lexical rules.

The rules are the R4 regular expressions of http://hl7.org/fhir/R4/datatypes.html
plus what a regular expression cannot say (impossible calendar dates, the
32-bit range of integers, the 1 MiB cap on strings). Each checker returns a
plain-English problem or ``None``; the caller adds the FHIRPath location.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from eolc_fhir.fhir.ids import ID_RE
from eolc_fhir.fhir.xhtml import check_div

__all__ = ["PRIMITIVE_TYPES", "WRONG_JSON_TYPE", "CodeNotAllowed", "bound_code", "check_primitive",
           "json_kind"]

_YEAR = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
_MONTH = r"(0[1-9]|1[0-2])"
_DAY = r"(0[1-9]|[1-2][0-9]|3[0-1])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?"
_ZONE = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))"

_DATE_RE = re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY})?)?")
_DATETIME_RE = re.compile(rf"{_YEAR}(-{_MONTH}(-{_DAY}(T{_TIME}{_ZONE})?)?)?")
_INSTANT_RE = re.compile(rf"{_YEAR}-{_MONTH}-{_DAY}T{_TIME}{_ZONE}")
_TIME_RE = re.compile(_TIME)
_CODE_RE = re.compile(r"[^\s]+(\s[^\s]+)*")
_OID_RE = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+")
_UUID_RE = re.compile(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BASE64_RE = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_WHITESPACE_RE = re.compile(r"\s")
# C0 control characters other than tab, LF and CR cannot appear in XML either.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MAX_STRING = 1024 * 1024
_INT32 = (-(2**31), 2**31 - 1)

Checker = Callable[[Any], "str | None"]

# Every problem that is about the JSON type (not the content) starts with this.
WRONG_JSON_TYPE = "expected a JSON "


def json_kind(value: Any) -> str:
    """How a JSON value reads to a person: 'a string', 'a number', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _string_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expected a JSON string, got {json_kind(value)} {_show(value)}"
    if not value:
        return "empty strings are not allowed in FHIR JSON; omit the element instead"
    if len(value) > _MAX_STRING:
        return "strings may not exceed 1 MiB"
    if _CONTROL_RE.search(value):
        return "contains a control character (only tab, CR and LF are allowed)"
    return None


def _pattern(regex: re.Pattern[str], what: str) -> Checker:
    def check(value: Any) -> str | None:
        problem = _string_problem(value)
        if problem is None and regex.fullmatch(value) is None:
            problem = f"{_show(value)} is not a valid {what}"
        return problem

    return check


def _no_whitespace(what: str) -> Checker:
    def check(value: Any) -> str | None:
        problem = _string_problem(value)
        if problem is None and _WHITESPACE_RE.search(value):
            problem = f"{_show(value)} is not a valid {what} (it contains whitespace)"
        return problem

    return check


def _calendar_problem(value: str, what: str) -> str | None:
    """The regex allows day 31 in any month; reject days the month lacks."""
    if len(value) < 10:
        return None
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    if day > calendar.monthrange(year, month)[1]:
        return f"{_show(value)} is not a valid {what} (there is no such day)"
    return None


def _dated(regex: re.Pattern[str], what: str, shape: str) -> Checker:
    def check(value: Any) -> str | None:
        problem = _string_problem(value)
        if problem is not None:
            return problem
        if regex.fullmatch(value) is None:
            return f"{_show(value)} is not a valid {what} (expected {shape})"
        return _calendar_problem(value, what)

    return check


def _integer(low: int, high: int, what: str) -> Checker:
    def check(value: Any) -> str | None:
        if type(value) is not int:
            if isinstance(value, float) and value.is_integer():
                return f"{_show(value)} is not a valid {what} (too large or written as a decimal)"
            return f"expected a JSON number ({what}), got {json_kind(value)} {_show(value)}"
        if not low <= value <= high:
            return f"{value} is out of range for {what} ({low}..{high})"
        return None

    return check


def _decimal(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a JSON number (decimal), got {json_kind(value)} {_show(value)}"
    if isinstance(value, float) and not math.isfinite(value):
        return "decimal values must be finite"
    return None


def _boolean(value: Any) -> str | None:
    if not isinstance(value, bool):
        return f"expected a JSON boolean (true or false), got {json_kind(value)} {_show(value)}"
    return None


def _base64(value: Any) -> str | None:
    problem = _string_problem(value)
    if problem is None and _BASE64_RE.fullmatch(_WHITESPACE_RE.sub("", value)) is None:
        problem = "is not valid base64 content"
    return problem


def _xhtml(value: Any) -> str | None:
    problem = _string_problem(value)
    if problem is not None:
        return problem
    problems = check_div(value)
    return "; ".join(problems) if problems else None


_DATE_SHAPE = "YYYY, YYYY-MM or YYYY-MM-DD"
_DATETIME_SHAPE = "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz"

PRIMITIVE_TYPES: dict[str, Checker] = {
    "boolean": _boolean,
    "integer": _integer(*_INT32, "integer"),
    "unsignedInt": _integer(0, _INT32[1], "unsignedInt"),
    "positiveInt": _integer(1, _INT32[1], "positiveInt"),
    "decimal": _decimal,
    "string": _string_problem,
    "markdown": _string_problem,
    "code": _pattern(_CODE_RE, "code (no leading, trailing or repeated whitespace)"),
    "id": _pattern(ID_RE, "id (1-64 of A-Z a-z 0-9 - .)"),
    "oid": _pattern(_OID_RE, "oid (urn:oid:...)"),
    "uuid": _pattern(_UUID_RE, "uuid (urn:uuid:... in lower case)"),
    "uri": _no_whitespace("uri"),
    "url": _no_whitespace("url"),
    "canonical": _no_whitespace("canonical"),
    "base64Binary": _base64,
    "date": _dated(_DATE_RE, "date", _DATE_SHAPE),
    "dateTime": _dated(_DATETIME_RE, "dateTime", _DATETIME_SHAPE),
    "instant": _dated(_INSTANT_RE, "instant", "YYYY-MM-DDThh:mm:ss(.sss)+zz:zz"),
    "time": _pattern(_TIME_RE, "time (hh:mm:ss)"),
    "xhtml": _xhtml,
}


class CodeNotAllowed(str):
    """A problem that is a code outside the value set its element is bound to (required
    binding): the caller reports it as ``code-invalid``."""


@cache  # one checker per list of codes, however many elements share it
def bound_code(codes: tuple[str, ...]) -> Checker:
    """A ``code`` checker that also allows only ``codes`` (a required binding)."""
    allowed = frozenset(codes)
    shown = " | ".join(codes)
    lexical = PRIMITIVE_TYPES["code"]

    def check(value: Any) -> str | None:
        problem = lexical(value)
        if problem is None and value not in allowed:
            return CodeNotAllowed(f"{_show(value)} is not one of the codes allowed here "
                                  f"(required binding): {shown}")
        return problem

    return check


def check_primitive(type_name: str, value: Any) -> str | None:
    """The problem with ``value`` as a FHIR ``type_name``, or ``None`` if it is valid."""
    return PRIMITIVE_TYPES[type_name](value)
