"""The lean append of read audit records: one short transaction, outside SQLAlchemy.

Every answered request waits for its audit record's commit (services/audit_trail.py
shares one commit among all the records queued meanwhile), so the commit's
latency is on every request's path. Through the SQLAlchemy async engine a
commit is six or more hops (connect, BEGIN, INSERT, INSERT, COMMIT, reset), each
an aiosqlite thread hop or a PostgreSQL round trip. Here:

- SQLite: a dedicated ``sqlite3`` connection, under the process's write lock (the
  one the units of work take): BEGIN IMMEDIATE, the rows, their references,
  COMMIT, on the event loop itself. A group of 16 read records is about 14 µs a
  record of SQLite's own work (its commit does not fsync in WAL mode), less than
  what handing it to a worker thread cost the loop (audited reads by id at 16
  clients: 190 µs of the process's CPU a request through the thread, 138 µs
  here; docs/performance.md). That attempt never waits: when another process holds
  SQLite's write lock (a CLI command, a migration) it gives up at once, rolls back,
  and the same transaction runs again in a worker thread that waits for the lock
  for up to the busy timeout, so the loop never sleeps on another process.
- PostgreSQL: the read pool's autocommit connections (storage/pg_reader.py), one
  round trip: one statement whose CTEs take the ids from the table's sequence and
  insert the rows and their references (one statement: one atomic transaction).

Both write exactly what ``AuditRepository.append`` writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence

import orjson

from eolc_fhir.storage.audit_repo import (
    AUDIT_COLUMNS,
    AuditRecord,
    audit_refs,
    audit_row,
    sqlite_insert,
)
from eolc_fhir.storage.errors import translated
from eolc_fhir.storage.pg_reader import PgReader
from eolc_fhir.storage.wal_checkpoint import CHECKPOINTS_BESIDE, BackgroundCheckpoint

__all__ = ["SqliteAuditAppender", "pg_append"]

_PG_TYPES = ("bigint", "text", "text", "text", "text", "text", "text", "int", "text", "text",
             "text", "text", "text", "text")
# One statement, so one round trip and one atomic transaction: the ids come from the table's
# sequence (one per record, in the records' order), then the rows and their references are
# inserted with them, and the ids come back in the records' order. The rows travel as one JSON
# text rather than as an array per column: asyncpg encodes one text in a fraction of the time.
_PG_APPEND = (
    "WITH src AS MATERIALIZED (SELECT n, nextval('audit_log_id_seq') AS id, r"
    " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(r, n)),"
    f" logged AS (INSERT INTO audit_log (id, {', '.join(AUDIT_COLUMNS)}) SELECT id, "
    + ", ".join(f"(r->>'{c}')::{t}" for c, t in zip(AUDIT_COLUMNS, _PG_TYPES, strict=True))
    + " FROM src),"
    " referenced AS (INSERT INTO audit_ref (ref, audit_id) SELECT x->>0, src.id"
    " FROM jsonb_array_elements($2::jsonb) AS x JOIN src ON src.n = (x->>1)::bigint)"
    " SELECT id FROM src ORDER BY n")


class SqliteAuditAppender:
    """A write connection of its own, used under the process's SQLite write lock."""

    def __init__(self, path: str, busy_timeout: float, write_lock: asyncio.Lock,
                 checkpoints: BackgroundCheckpoint) -> None:
        self._path = path
        self._busy_timeout = busy_timeout
        self._lock = write_lock
        self._conn: sqlite3.Connection | None = None
        self._checkpoints = checkpoints  # the Database's: one for the file's one WAL

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # timeout=0: the attempt on the event loop never waits (``_write`` sets it)
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None,
                                   timeout=0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            for pragma in CHECKPOINTS_BESIDE:  # the Database's BackgroundCheckpoint
                conn.execute(pragma)
            self._conn = conn
        return self._conn

    async def append(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        async with self._lock:
            with translated():
                if not self._write(records, wait=False):
                    # Another process has SQLite's write lock: wait for it off the loop.
                    write = asyncio.ensure_future(asyncio.to_thread(self._write, records,
                                                                    wait=True))
                    try:
                        await asyncio.shield(write)
                    except asyncio.CancelledError:
                        await write  # a commit cannot be stopped half-way: finish it, then go
                        raise
        self._checkpoints.committed()

    def _write(self, records: Sequence[AuditRecord], *, wait: bool) -> bool:
        """One transaction; False (nothing written) when ``wait`` is off and another
        connection holds the write lock."""
        conn = self._connection()
        if wait:
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        try:
            conn.execute("BEGIN IMMEDIATE")
            sqlite_insert(conn, records)
            conn.execute("COMMIT")
            return True
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for record in records:
                record.id = None
            if not wait and isinstance(exc, sqlite3.OperationalError) and \
                    exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                return False
            raise
        finally:
            if wait:
                conn.execute("PRAGMA busy_timeout=0")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def pg_append(reader: PgReader, records: Sequence[AuditRecord]) -> None:
    """One round trip on an autocommit connection: one statement is atomic by itself."""
    if not records:
        return
    rows = orjson.dumps([audit_row(r) for r in records]).decode()
    refs = orjson.dumps([(ref, n) for n, record in enumerate(records, start=1)
                         for ref in audit_refs(record)]).decode()
    ids = await reader.fetch(_PG_APPEND, (rows, refs))
    for record, row in zip(records, ids, strict=True):
        record.id = int(row[0])
