"""Search value arithmetic: date ranges by precision, number precision, text folding."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

__all__ = [
    "MIN_US",
    "MAX_US",
    "date_range",
    "number_range",
    "normalise",
    "DateFormatError",
]

# Open ends of a Period are stored as these bounds (inside a signed 64-bit int).
MIN_US = -(2**62)
MAX_US = 2**62

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_RE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


class DateFormatError(ValueError):
    """The text is not a FHIR date, dateTime or instant."""


def _us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _tz_offset(tz: str | None) -> timedelta:
    if tz is None or tz == "Z":
        return timedelta(0)  # no zone given: read as UTC
    sign = -1 if tz[0] == "-" else 1
    return sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6]))


def date_range(text: str) -> tuple[int, int]:
    """Inclusive (low, high) microseconds of a date/dateTime/instant at its precision.

    ``2024`` is the whole year, ``2024-03-01T10:00`` the whole minute, and a
    fraction of a second its own digits (beyond microseconds is truncated).
    """
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise DateFormatError(text)
    g = match.groupdict()
    try:
        low, step = _low_and_step(g)
    except ValueError as exc:
        raise DateFormatError(text) from exc
    offset = _tz_offset(g["tz"])
    low_us = _us(low - offset)
    high_us = low_us + step - 1
    return low_us, high_us


def _low_and_step(g: dict[str, str | None]) -> tuple[datetime, int]:
    year = int(g["y"] or 0)
    if g["m"] is None:
        low = datetime(year, 1, 1, tzinfo=UTC)
        return low, _span_us(low, year + 1, 1)
    month = int(g["m"])
    if g["d"] is None:
        low = datetime(year, month, 1, tzinfo=UTC)
        return low, _span_us(low, year + month // 12, month % 12 + 1)
    day = int(g["d"])
    if g["H"] is None:
        return datetime(year, month, day, tzinfo=UTC), 86_400_000_000
    hour, minute = int(g["H"]), int(g["M"] or 0)
    if g["S"] is None:
        return datetime(year, month, day, hour, minute, tzinfo=UTC), 60_000_000
    second = int(g["S"])
    frac = (g["f"] or "")[:6]
    micro = int(frac.ljust(6, "0")) if frac else 0
    step = 10 ** (6 - len(frac))
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC), step


def _span_us(low: datetime, next_year: int, next_month: int) -> int:
    if next_year > 9999:
        return _us(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)) - _us(low) + 1
    return _us(datetime(next_year, next_month, 1, tzinfo=UTC)) - _us(low)


def number_range(text: str) -> tuple[float, float, float]:
    """(value, low, high) of a search number: ``100`` means [99.5, 100.5).

    The high bound is exclusive; exponent forms carry their own precision.
    """
    try:
        dec = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(text) from exc
    if not dec.is_finite():
        raise ValueError(text)
    exponent = dec.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return float(dec), float(dec - half), float(dec + half)


def normalise(text: str) -> str:
    """Lower case without accents: what default and :contains string search compare."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.lower()
