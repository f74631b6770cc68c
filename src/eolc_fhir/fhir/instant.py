"""Server timestamps: microseconds since the epoch <-> FHIR instant / HTTP date."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache

__all__ = ["now_us", "to_instant", "to_http_date", "from_instant", "DAY_US"]

DAY_US = 86_400_000_000  # microseconds in a day


def now_us() -> int:
    return time.time_ns() // 1000


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


def to_instant(us: int) -> str:
    """FHIR instant with microseconds in UTC, e.g. 2026-11-30T06:45:12.123456Z."""
    seconds, micros = divmod(us, 1_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{micros:06d}Z"


def to_http_date(us: int) -> str:
    return _http_date(us // 1_000_000)


@lru_cache(maxsize=4096)  # every read's Last-Modified; most of them name the same seconds
def _http_date(seconds: int) -> str:
    return format_datetime(_dt(seconds * 1_000_000), usegmt=True)


def from_instant(value: str) -> int:
    """Parse an ISO instant/dateTime (with zone; no zone means UTC) to microseconds."""
    text = value.strip().replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1_000_000)
