"""Per-client rate limits: a token bucket per client in each process, and on PostgreSQL
one count per client that every process shares.

A client's limit (requests per minute) is its own, set at registration, or the
server's default; 0 means none. Each process keeps a token bucket per client
(refilled at the limit, holding at most ``burst``, or the limit when lower), so a
single process answers a burst at once and refuses a runaway loop without
asking anyone.

With several processes (``serve --workers N``, or replicas on several hosts) the
buckets alone would let a client make N times its limit. So on PostgreSQL each
process also counts what it accepted and, every ``EOLC_RATE_LIMIT_SYNC_SECONDS``
(0.5 s), adds those counts to the client's row of the current 10-second slot in
``security_rate_windows`` (one upsert for all clients) and reads back each
client's total over the last six slots (the last 50-60 s). A request is refused
when that shared total, plus what this process accepted since, reaches the limit.
No request waits for the database.

Accuracy: a process learns of another's requests at most two sync intervals
(about 1 s) after that process accepted them. So whenever the window has room
(at the start, and when an old slot leaves it) every other process may go on
accepting for up to that long: in the worst case a client gets (N - 1) ×
min(burst, the requests it sends one process in two intervals) more than its
limit. With the defaults, 2 processes and a client sending 100 requests/s
spread over both, that is at most 50 over 3,000 a minute. SQLite has one
process and no shared window: its bucket alone allows at most burst + the limit
in any minute. Unauthenticated callers (keyed by address, e.g. the token
endpoint) are limited per process only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["RateLimiter", "SharedWindow", "SLOT_SECONDS", "WINDOW_SLOTS"]

_MAX_BUCKETS = 50_000  # unauthenticated callers are keyed by address: keep memory bounded
SLOT_SECONDS = 10
WINDOW_SLOTS = 6  # the window: this slot and the five before it

# (tokens, when, rate per second, capacity)
_Bucket = tuple[float, float, float, float]


class SharedWindow:
    """This process's view of the counts shared through the database.

    ``totals``: every process's requests per client over the window, as last read;
    ``sending``: counts on their way to the database; ``pending``: accepted since.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.totals: dict[str, int] = {}
        self.sending: dict[str, int] = {}
        self.pending: dict[str, int] = {}
        self._clock = clock

    def used(self, key: str) -> int:
        return self.totals.get(key, 0) + self.sending.get(key, 0) + self.pending.get(key, 0)

    def wait(self, key: str, limit: int) -> float:
        """0 while the client is under ``limit``; else seconds until the window's oldest
        slot leaves it."""
        if self.used(key) < limit:
            return 0.0
        return SLOT_SECONDS - self._clock() % SLOT_SECONDS

    def count(self, key: str) -> None:
        self.pending[key] = self.pending.get(key, 0) + 1

    def slot(self) -> int:
        return int(self._clock() // SLOT_SECONDS)

    def start_sync(self) -> tuple[dict[str, int], list[str], int]:
        """(counts to add, clients to read back, the current slot)."""
        self.sending, self.pending = self.pending, {}
        return self.sending, list(self.totals), self.slot()

    def finish_sync(self, totals: dict[str, int]) -> None:
        """The database's totals now include what was sent."""
        self.totals, self.sending = totals, {}

    def failed_sync(self) -> None:
        """Keep the counts for the next attempt."""
        for key, n in self.sending.items():
            self.pending[key] = self.pending.get(key, 0) + n
        self.sending = {}


class RateLimiter:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.per_minute = per_minute  # the default, for clients without their own
        self.burst = max(burst, 1)
        self.shared: SharedWindow | None = None  # set on PostgreSQL
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, per_minute: int | None = None, now: float | None = None) -> float:
        """0 when the request may go ahead, otherwise seconds until it could.
        ``per_minute``: the client's own limit (None: the default)."""
        limit = self.per_minute if per_minute is None else per_minute
        if limit <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        if len(self._buckets) >= _MAX_BUCKETS and key not in self._buckets:
            self._forget_full(now)
        rate, capacity = limit / 60.0, float(min(self.burst, limit))
        tokens, when, _, _ = self._buckets.get(key, (capacity, now, rate, capacity))
        tokens = min(capacity, tokens + (now - when) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now, rate, capacity)
            return (1.0 - tokens) / rate
        shared = self.shared
        if shared is not None and not key.startswith("ip:"):
            wait = shared.wait(key, limit)
            if wait > 0:
                self._buckets[key] = (tokens, now, rate, capacity)
                return wait
            shared.count(key)
        self._buckets[key] = (tokens - 1.0, now, rate, capacity)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        full = [k for k, (tokens, when, rate, capacity) in self._buckets.items()
                if tokens + (now - when) * rate >= capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= _MAX_BUCKETS:
            self._buckets.clear()
