"""SQLite WAL checkpoints moved off the request path.

A SQLite commit that takes the WAL past ``wal_autocheckpoint`` pages runs the
checkpoint itself, with its fsyncs, before it returns; on the audit path that
is a request waiting milliseconds once every few dozen commits (appending one
record 3,000 times: p99 2.0-2.7 ms with it, 0.3-1.0 ms without), and on the
write path it was most of a commit's cost (a group of 16 creates: 4.1 ms a
commit with it, 0.9 ms without). Every connection of the Database (the engine's
and the audit appender's) turns its own automatic checkpoint off, and the
Database tells this class of each write it commits; every ``every`` commits a
PASSIVE checkpoint runs in a worker thread on a connection of its own, beside the
writers (a PASSIVE checkpoint waits for no one).

A PASSIVE checkpoint copies the WAL back into the database but never resets it:
SQLite starts the WAL again from its beginning only when, at a writer's start,
every frame has been copied and no reader is using one. Under steady reads that
moment never comes (some reader is always on a recent snapshot), so the WAL file
grew without bound, and every read grew slower looking pages up in it: 3.4 GB
after two minutes of audited ``$wishes`` at 16 clients (about 60 KB a request:
the pages each commit's audit references dirty). When the WAL holds more than
``restart_bytes`` a RESTART checkpoint follows the PASSIVE one: it copies the
frames left, waits for the readers still on older snapshots (new readers read
the database file) and makes the next writer start the WAL from its beginning,
so the file stays about that size. It runs holding the process's SQLite write
lock: the process's writers wait for it there, not in SQLite's busy handler,
where a writer and the checkpoint sleep with growing back-offs. It pauses
writes for tens of milliseconds (70 ms measured at 16 clients, once for each
64 MB of WAL), and gives up after waiting 100 ms for readers (the next round tries
again); that is the price of a bounded WAL under constant load.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3

__all__ = ["BackgroundCheckpoint", "WAL_RESTART_BYTES", "CHECKPOINTS_BESIDE"]

log = logging.getLogger(__name__)
_RESTART_WAIT_MS = 100
WAL_RESTART_BYTES = 64 << 20
# What each connection writing to a file a BackgroundCheckpoint looks after runs: no
# automatic checkpoint of its own, and when it starts the WAL again after a RESTART it
# cuts the file back to this size (it would otherwise keep its largest size).
CHECKPOINTS_BESIDE = ("PRAGMA wal_autocheckpoint=0",
                      f"PRAGMA journal_size_limit={WAL_RESTART_BYTES}")


class BackgroundCheckpoint:
    def __init__(self, path: str, busy_timeout: float, write_lock: asyncio.Lock, *,
                 every: int = 32, restart_bytes: int = WAL_RESTART_BYTES) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._lock = write_lock
        self._every = every
        self._restart_bytes = restart_bytes
        self.restarts = 0  # RESTART checkpoints so far (tests)
        self._commits = 0
        self._conn: sqlite3.Connection | None = None
        self._frame_bytes = 0  # a WAL frame: a page and its header
        self._running: asyncio.Future[None] | None = None

    def committed(self) -> None:
        """One more commit (on the event loop); starts a checkpoint when it is time."""
        self._commits += 1
        if self._commits < self._every or (self._running is not None
                                           and not self._running.done()):
            return
        self._commits = 0
        self._running = asyncio.ensure_future(self._checkpoint())
        self._running.add_done_callback(_report)

    async def _checkpoint(self) -> None:
        wal_bytes = await asyncio.to_thread(self._run, "PASSIVE")
        if wal_bytes > self._restart_bytes:
            async with self._lock:
                await asyncio.to_thread(self._run, "RESTART")
            self.restarts += 1

    def _run(self, mode: str) -> int:
        """One checkpoint; the size of the WAL it leaves (frames: a page and a header)."""
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, check_same_thread=False,
                                         isolation_level=None, timeout=self._busy_timeout)
            self._frame_bytes = int(self._conn.execute("PRAGMA page_size").fetchone()[0]) + 24
        # RESTART waits for readers in SQLite's busy handler, holding every writer back: at
        # most _RESTART_WAIT_MS (a reader can keep it waiting for the whole busy timeout, 30 s
        # once in a test), then it gives up until the next round.
        wait = _RESTART_WAIT_MS if mode == "RESTART" else int(self._busy_timeout * 1000)
        self._conn.execute(f"PRAGMA busy_timeout={wait}")
        _busy, frames, _copied = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return int(frames) * self._frame_bytes

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
