"""Per-client rate limit: a token bucket per client id, in this process's memory.

With N server processes a client may reach N times the limit; the limit is
a guard against a runaway client, not an accounting tool.
"""

from __future__ import annotations

import time

__all__ = ["RateLimiter"]

_MAX_BUCKETS = 50_000  # unauthenticated callers are keyed by address: keep memory bounded


class RateLimiter:
    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(max(burst, 1))
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, when)

    def take(self, client_id: str, now: float | None = None) -> float:
        """0 when the request may go ahead, otherwise seconds until it could."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic() if now is None else now
        if len(self._buckets) >= _MAX_BUCKETS and client_id not in self._buckets:
            self._forget_full(now)
        tokens, when = self._buckets.get(client_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - when) * self.rate)
        if tokens < 1.0:
            self._buckets[client_id] = (tokens, now)
            return (1.0 - tokens) / self.rate
        self._buckets[client_id] = (tokens - 1.0, now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        full = [k for k, (tokens, when) in self._buckets.items()
                if tokens + (now - when) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= _MAX_BUCKETS:
            self._buckets.clear()
