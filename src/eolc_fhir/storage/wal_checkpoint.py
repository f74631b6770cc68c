"""SQLite WAL checkpoints moved off the request path (the audit appender's commits).

A SQLite commit that takes the WAL past ``wal_autocheckpoint`` pages runs the
checkpoint itself, with its fsyncs, before it returns; on the audit path that
is a request waiting milliseconds once every few dozen commits (appending one
record 3,000 times: p99 2.0-2.7 ms with it, 0.3-1.0 ms without). The audit appender's
connection turns its own automatic checkpoint off and tells this class of each
commit; every ``every`` commits a PASSIVE checkpoint runs in a worker thread on
a connection of its own, beside the writers (a PASSIVE checkpoint waits for no
one). The engine's other connections keep SQLite's automatic checkpoint, so the
WAL stays bounded even if this one falls behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

__all__ = ["BackgroundCheckpoint"]

log = logging.getLogger(__name__)


class BackgroundCheckpoint:
    def __init__(self, path: str, busy_timeout: float, every: int = 32) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._every = every
        self._commits = 0
        self._conn: sqlite3.Connection | None = None
        self._running: asyncio.Future[None] | None = None

    def committed(self) -> None:
        """One more commit (on the event loop); starts a checkpoint when it is time."""
        self._commits += 1
        if self._commits < self._every or (self._running is not None
                                           and not self._running.done()):
            return
        self._commits = 0
        self._running = asyncio.ensure_future(asyncio.to_thread(self._checkpoint))
        self._running.add_done_callback(_report)

    def _checkpoint(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, check_same_thread=False,
                                         isolation_level=None, timeout=self._busy_timeout)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    async def aclose(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            with contextlib.suppress(Exception):
                await running
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _report(done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is not None:
        # Not fatal: the next one, or another connection's automatic checkpoint, catches up.
        log.warning("background WAL checkpoint failed: %s", type(done.exception()).__name__)
