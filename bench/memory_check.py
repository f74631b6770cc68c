"""Memory of a server over a large region: peak RSS under $wishes load, auth on and off.

    python -m bench.memory_check [--patients 100000] [--engines sqlite,postgresql]
                                 [--duration 30] [--sqlite-db PATH] [--seed 1]

Per engine: load the demo region with the real command (``eolc-fhir demo --patients N``,
timed), or reuse an already loaded SQLite file (``--sqlite-db``, keeps the file); then
start ``eolc-fhir serve`` (1 uvicorn worker) with auth off (``--insecure-dev``) and
again with auth on (demo clients, an ambulance token, every answer audited) and drive
``$wishes`` by NHS number over 20,000 people of the whole region (far more documents
than the document cache keeps) with wrk, 16 connections. Reports RSS after start, at
the end, and the peak (VmHWM) of the server process; the goal is < 300 MB per process.
PostgreSQL is a throwaway server from the test helper (fsync off). Results: markdown
under bench/results/.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.servers import REPO, Server, rss_kib
from bench.service_bench import _crew_token, _start_eolc, _wrk

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
GOAL_MIB = 300


def _load(url: str, patients: int, seed: int) -> float:
    cli = Path(sys.executable).parent / "eolc-fhir"
    began = time.monotonic()
    subprocess.run([str(cli), "demo", "--patients", str(patients), "--seed", str(seed),
                    "--database-url", url], cwd=REPO, check=True)
    return time.monotonic() - began


def _paths(workdir: Path, patients: int, seed: int) -> Path:
    from eolc_fhir.demo.people import NhsNumbers

    numbers = NhsNumbers(seed)
    # In index order, each once: a number depends on the ones drawn before it.
    nhs = [numbers.for_person(i) for i in range(patients)]
    people = random.Random(seed).sample(range(patients), min(patients, 20_000))
    path = workdir / "wishes.txt"
    path.write_text("".join(f"/Patient/$wishes?identifier={NHS}|{nhs[i]}\n" for i in people))
    return path


def _measure(engine: str, url: str, workdir: Path, paths: Path, duration: float,
             secure: bool) -> dict[str, Any]:
    server: Server = _start_eolc(url, workdir, secure=secure)
    try:
        server.wait_ready("/readyz", timeout=120)
        env = {"BENCH_PATHS": str(paths)}
        if secure:
            env["BENCH_TOKEN"] = _crew_token(server, workdir)
        start = rss_kib(server.process.pid)
        result = _wrk(server.base_url, "paths.lua", 16, duration, env)
        end, peak = rss_kib(server.process.pid), server.peak_rss_kib()
    finally:
        server.stop()
    row = {"engine": engine, "auth": "on" if secure else "off", "rps": result.rps,
           "p50": result.p50_ms, "p99": result.p99_ms, "errors": result.errors,
           "rss_start": start / 1024, "rss_end": end / 1024, "rss_peak": peak / 1024}
    print(f"  {engine:10} auth {row['auth']:3} {result.rps:7,.0f} req/s p99 "
          f"{result.p99_ms:6.1f} ms errors {result.errors}  RSS start {row['rss_start']:.0f} "
          f"end {row['rss_end']:.0f} peak {row['rss_peak']:.0f} MiB", flush=True)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_check",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sqlite-db", type=Path, help="an already loaded SQLite file to reuse")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="eolc-memory-"))
    pg: list[Any] = []
    rows: list[dict[str, Any]] = []
    loads: list[str] = []
    try:
        paths = _paths(work, args.patients, args.seed)
        for engine in args.engines.split(","):
            workdir = work / engine
            workdir.mkdir()
            if engine == "sqlite" and args.sqlite_db:
                url = f"sqlite+aiosqlite:///{args.sqlite_db.resolve()}"
                loads.append(f"sqlite: reused {args.sqlite_db} (loaded beforehand)")
            else:
                url = _url(engine, workdir, pg)
                print(f"{engine}: eolc-fhir demo --patients {args.patients:,}", flush=True)
                seconds = _load(url, args.patients, args.seed)
                loads.append(f"{engine}: `eolc-fhir demo --patients {args.patients}` took "
                             f"{seconds / 60:.1f} min")
            for secure in (False, True):
                rows.append(_measure(engine, url, workdir, paths, args.duration, secure))
    finally:
        for server in pg:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    _write(args, rows, loads)
    return 0


def _url(engine: str, workdir: Path, pg: list[Any]) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{workdir}/eolc.db"
    from tests._pg import start_pg_server

    if not pg:
        pg.append(start_pg_server())
    return str(pg[0].url(pg[0].create_database()))


def _write(args: argparse.Namespace, rows: list[dict[str, Any]], loads: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    lines = [f"# Memory with a {args.patients:,}-patient region ({stamp})", "",
             f"Machine: {os.cpu_count()} cores, shared with other work during the run. "
             f"Load: wrk, 16 connections, {args.duration:g} s of `$wishes` by NHS number over "
             "20,000 people of the region. 1 uvicorn worker. Goal: < 300 MB per process.", "",
             *[f"- {line}" for line in loads], "",
             "| engine | auth | req/s | p50 ms | p99 ms | errors | RSS start MiB "
             "| RSS end MiB | peak RSS MiB | goal |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ok = "met" if r["rss_peak"] < GOAL_MIB * 1e6 / 2**20 else "MISSED"
        lines.append(f"| {r['engine']} | {r['auth']} | {r['rps']:,.0f} | {r['p50']:.1f} "
                     f"| {r['p99']:.1f} | {r['errors']} | {r['rss_start']:.0f} "
                     f"| {r['rss_end']:.0f} | {r['rss_peak']:.0f} | {ok} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{stamp}-memory.md").write_text(text)
    print(text)


if __name__ == "__main__":
    raise SystemExit(main())
