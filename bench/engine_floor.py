"""What the database engines themselves allow for one write per commit, measured in-run.

    python -m bench.engine_floor [--duration 5] [--pg-url postgresql://...] [--writers 16]

Each write is what a create stores: one ~2 KB row plus 5 index rows, then a commit.

    sqlite3  the stdlib driver, WAL, synchronous=NORMAL (as the server runs SQLite),
             one writer in a loop on a fresh file
    asyncpg  8-16 concurrent writers, each in a loop: BEGIN, insert the row, the 5 index
             rows (one executemany), COMMIT; fresh tables in the given database

The service benchmark measures both next to the server's own creates, so the
"validated create >= half the engine's floor" goal is judged on the same machine state.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.load import LoadResult

__all__ = ["sqlite_floor", "asyncpg_floor"]

_CONTENT = b'{"resourceType":"CarePlan","note":"' + b"x" * 1960 + b'"}'  # ~2 KB
_INDEX = [("subject", "Patient", "p1"), ("category", "sct", "736366004"),
          ("status", None, "active"), ("intent", None, "plan"), ("identifier", "urn:x", "1")]


def _result(latencies: list[float], duration: float) -> LoadResult:
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1e3

    return LoadResult("loop", len(latencies), duration, pct(0.5), pct(0.9), pct(0.99),
                      ordered[-1] * 1e3, 0)


def sqlite_floor(duration: float, workdir: Path | None = None) -> LoadResult:
    """One writer: INSERT a 2 KB row and 5 index rows, COMMIT, again, for ``duration`` s."""
    folder = Path(tempfile.mkdtemp(dir=workdir))
    conn = sqlite3.connect(folder / "floor.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE res (id TEXT PRIMARY KEY, version INT, content BLOB)")
    conn.execute("CREATE TABLE idx (id INTEGER PRIMARY KEY, res_id TEXT, param TEXT, "
                 "system TEXT, code TEXT)")
    conn.execute("CREATE INDEX idx_code ON idx (param, code)")
    latencies: list[float] = []
    end = time.perf_counter() + duration
    began = time.perf_counter()
    while (start := time.perf_counter()) < end:
        rid = uuid.uuid4().hex
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO res VALUES (?, 1, ?)", (rid, _CONTENT))
        conn.executemany("INSERT INTO idx (res_id, param, system, code) VALUES (?, ?, ?, ?)",
                         [(rid, *row) for row in _INDEX])
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - began
    conn.close()
    return _result(latencies, elapsed)


async def _pg_floor(url: str, duration: float, writers: int) -> LoadResult:
    import asyncpg

    schema = f"floor_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(url)
    await admin.execute(f"CREATE SCHEMA {schema}")
    await admin.execute(f"CREATE TABLE {schema}.res (id TEXT PRIMARY KEY, version INT, "
                        "content BYTEA)")
    await admin.execute(f"CREATE TABLE {schema}.idx (id BIGSERIAL PRIMARY KEY, res_id TEXT, "
                        "param TEXT, system TEXT, code TEXT)")
    await admin.execute(f"CREATE INDEX ON {schema}.idx (param, code)")
    pool = await asyncpg.create_pool(url, min_size=writers, max_size=writers)
    latencies: list[float] = []
    end = time.perf_counter() + duration

    async def writer() -> None:
        async with pool.acquire() as conn:
            while (start := time.perf_counter()) < end:
                rid = uuid.uuid4().hex
                async with conn.transaction():
                    await conn.execute(f"INSERT INTO {schema}.res VALUES ($1, 1, $2)",
                                       rid, _CONTENT)
                    await conn.executemany(
                        f"INSERT INTO {schema}.idx (res_id, param, system, code) "
                        "VALUES ($1, $2, $3, $4)", [(rid, *row) for row in _INDEX])
                latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(writer() for _ in range(writers)))
        elapsed = time.perf_counter() - began
    finally:
        await pool.close()
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
    return _result(latencies, elapsed)


def asyncpg_floor(url: str, duration: float, writers: int = 16) -> LoadResult:
    """``writers`` concurrent asyncpg insert-and-commit loops against ``url``
    (a plain ``postgresql://`` URL; SQLAlchemy's ``+asyncpg`` is dropped)."""
    return asyncio.run(_pg_floor(url.replace("postgresql+asyncpg://", "postgresql://"),
                                 duration, writers))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_floor",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL"))
    parser.add_argument("--writers", type=int, default=16)
    args = parser.parse_args(argv)
    runs = [sqlite_floor(args.duration) for _ in range(3)]
    print(f"sqlite3 floor: {statistics.median(r.rps for r in runs):,.0f} commits/s")
    if args.pg_url:
        pg = asyncpg_floor(args.pg_url, args.duration, args.writers)
        print(f"asyncpg floor ({args.writers} writers): {pg.rps:,.0f} commits/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
