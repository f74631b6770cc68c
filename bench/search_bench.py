"""Search latency at 10k / 100k patients on SQLite and PostgreSQL, 16 concurrent clients.

    python -m bench.search_bench --engines sqlite,postgresql --sizes 10000,100000

Calls the search service (``services.search.search_type``: plan, SQL, Bundle
bytes) in-process from N concurrent asyncio clients (the engine's cost without
HTTP) and, with ``--http``, through ``eolc-fhir serve`` driven by wrk with N
connections (the whole stack). PostgreSQL is a throwaway server started from the
local binaries (the test suite's helper). Prints a Markdown table and writes
JSON + Markdown under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench.search_population import (
    NHS,
    PATIENTS_PER_PRACTICE,
    SCT,
    bulk_load,
    nhs_for,
    population,
)
from eolc_fhir.config import DEFAULT_PROFILES_DIR, Settings
from eolc_fhir.search import SearchRegistry
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search.query import search_type
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.migrate import upgrade

Params = list[tuple[str, str]]
Scenario = tuple[str, str, Callable[[random.Random, int], Params]]

SCENARIOS: list[Scenario] = [
    ("patient by NHS number", "Patient",
     lambda rng, n: [("identifier", f"{NHS}|{nhs_for(rng.randrange(n))}")]),
    ("flags by patient", "Flag",
     lambda rng, n: [("patient", f"Patient/pat-{rng.randrange(n)}")]),
    ("active register flags by practice + _include=Flag:patient", "Flag",
     lambda rng, n: [("code", f"{SCT}|526631000000108"), ("status", "active"),
                     ("author", f"Organization/prac-{rng.randrange(_practices(n))}"),
                     ("_include", "Flag:patient")]),
    ("_has: practice's patients with a CPR decision", "Patient",
     lambda rng, n: [("_has:Flag:patient:code", "450476008"),
                     ("general-practitioner",
                      f"Organization/prac-{rng.randrange(_practices(n))}")]),
]


def _practices(n: int) -> int:
    return max(1, n // PATIENTS_PER_PRACTICE)


async def _client(ctx: ServerContext, rtype: str, make: Callable[[random.Random, int], Params],
                  n: int, count: int, seed: int, out: list[float]) -> None:
    rng = random.Random(seed)
    for _ in range(count):
        params = make(rng, n)
        start = time.perf_counter()
        body = await search_type(ctx, rtype, params, base_url="http://bench")
        out.append((time.perf_counter() - start) * 1000)
        if b'"entry"' not in body:
            raise AssertionError(f"no results for {rtype}?{params}")


async def _scenario(ctx: ServerContext, scenario: Scenario, n: int, clients: int,
                    requests: int) -> dict[str, Any]:
    name, rtype, make = scenario
    await _client(ctx, rtype, make, n, 20, 999, [])  # warm caches and the pool
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(
        _client(ctx, rtype, make, n, requests // clients, seed, latencies)
        for seed in range(clients)
    ))
    elapsed = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "scenario": name,
        "requests": len(ordered),
        "p50_ms": round(statistics.median(ordered), 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "req_per_s": round(len(ordered) / elapsed, 1),
    }


async def _load(url: str, n: int, registry: SearchRegistry) -> None:
    db = Database(url)
    try:
        await upgrade(db)
        start = time.perf_counter()
        loaded = await bulk_load(db, population(n), registry)
        print(f"  loaded {loaded} resources in {time.perf_counter() - start:.0f}s", flush=True)
    finally:
        await db.close()


async def _run_one(url: str, n: int, clients: int, requests: int,
                   registry: SearchRegistry) -> list[dict[str, Any]]:
    db = Database(url, pool_size=clients)
    try:
        ctx = ServerContext(settings=Settings(database_url=url, base_url="http://bench"), db=db)
        ctx.search = registry
        results = []
        for scenario in SCENARIOS:
            result = await _scenario(ctx, scenario, n, clients, requests)
            print(f"  {result}", flush=True)
            results.append(result)
        return results
    finally:
        await db.close()


def _markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| engine | patients | via | scenario | p50 ms | p99 ms | req/s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['engine']} | {r['patients']:,} | {r['via']} | {r['scenario']} "
                     f"| {r['p50_ms']} | {r['p99_ms']} | {r['req_per_s']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=800, help="per in-process scenario")
    parser.add_argument("--http", action="store_true", help="also through eolc-fhir serve + wrk")
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per scenario")
    args = parser.parse_args()
    registry = SearchRegistry.load(DEFAULT_PROFILES_DIR)
    rows: list[dict[str, Any]] = []
    pg = None
    with tempfile.TemporaryDirectory(prefix="eolc-search-bench-") as tmp:
        try:
            for engine in args.engines.split(","):
                for n in (int(s) for s in args.sizes.split(",")):
                    print(f"{engine} {n:,} patients", flush=True)
                    if engine == "sqlite":
                        url = f"sqlite+aiosqlite:///{tmp}/bench-{n}.db"
                    else:
                        if pg is None:
                            from tests._pg import start_pg_server

                            pg = start_pg_server()
                        url = pg.url(pg.create_database())
                    asyncio.run(_load(url, n, registry))
                    found = asyncio.run(_run_one(url, n, args.clients, args.requests, registry))
                    rows += [{"engine": engine, "patients": n, "via": "service", **r}
                             for r in found]
                    if args.http:
                        from bench.search_http import run_baseline, run_http

                        found = run_http(url, n, Path(tmp), SCENARIOS,
                                         duration=args.duration, connections=args.clients)
                        rows += [{"engine": engine, "patients": n, "via": "http", **r}
                                 for r in found]
                        base = run_baseline(Path(tmp), duration=args.duration,
                                            connections=args.clients)
                        rows.append({"engine": "-", "patients": n, "via": "http", **base})
        finally:
            if pg is not None:
                pg.stop()
    table = _markdown(rows)
    print(table)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}-search.json").write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))
    (out / f"{stamp}-search.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
