"""Service-level benchmark: $wishes, reads, searches, writes on SQLite and PostgreSQL.

    python -m bench.service_bench [--patients 20000] [--engines sqlite,postgresql]
                                  [--duration 10] [--seed 1]

For each engine: a fresh database gets the synthetic region (``eolc-fhir demo``'s
loader, in-process), then ``eolc-fhir serve --insecure-dev`` runs as a subprocess
(1 uvicorn worker, no access log) and wrk drives it over loopback:

    $wishes by NHS number at 1, 16 and 64 connections (2,000 people asked for again and
        again: their documents stay in the server's document cache)
    $wishes for everyone in the region once, in random order (16; mostly cache misses)
    $wishes with authentication on, an ambulance client's token, every request audited
        (1 and 16)
    read-by-id (Patient), search by NHS number, register flags by practice   (16)
    validated create (an advance care plan)                                  (16)
    transaction of 20 entries (preferred places)                             (4)
    notification latency: bench.subscriptions_bench, when present (--no-subscriptions skips)

The bare baseline (bench/baseline_app.py: Starlette + sqlite3, stored bytes by
key) is measured in the same run at 1, 16 and 64 connections, so ratios are
against the same machine state. PostgreSQL is a throwaway server from the local
binaries (the test suite's helper: fsync off). Results: markdown + JSON + PNG
under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from bench.engine_floor import asyncpg_floor, sqlite_floor
from bench.load import LoadResult, wrk_available
from bench.run import seed as seed_baseline
from bench.servers import REPO, Server, free_port, start_baseline
from bench.service_report import (
    CREATE,
    FLOOR,
    READ,
    TRANSACTION,
    Measurement,
    render_markdown,
    render_png,
)

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
WRK_DIR = Path(__file__).resolve().parent / "wrk"
NHS = "https://fhir.nhs.uk/Id/nhs-number"
SCT = "http://snomed.info/sct"
CONNECTIONS = (1, 16, 64)


def _wrk(base_url: str, script: str, connections: int, duration: float,
         env: dict[str, str]) -> LoadResult:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "-s", str(WRK_DIR / script), base_url]
    proc = subprocess.run(argv, capture_output=True, text=True, check=True,
                          env={**os.environ, "BENCH_WRK_DIR": str(WRK_DIR), **env})
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(raw[k] for k in raw if k.startswith("errors_"))
    return LoadResult("wrk", raw["requests"], raw["duration_us"] / 1e6, raw["p50_us"] / 1e3,
                      raw["p90_us"] / 1e3, raw["p99_us"] / 1e3, raw["max_us"] / 1e3, errors)


def _warm(base_url: str, env: dict[str, str]) -> None:
    """Ask for every path of ``env["BENCH_PATHS"]`` at least once (16 clients, two seconds
    at a time), so that each run measures a server that has seen everyone once, as one up
    for a while has. Two seconds alone did not: with authentication on they covered 1,300
    of the 2,000 people, and the one-client run that followed measured the rest's first
    documents (p99 5-7 ms on PostgreSQL against 1.6-2.1 ms once warm)."""
    wanted = len(Path(env["BENCH_PATHS"]).read_text().splitlines())
    done = 0
    while done < wanted:
        done += _wrk(base_url, "paths.lua", 16, 2, env).requests


async def _load(url: str, patients: int, seed: int) -> None:
    from eolc_fhir.config import Settings
    from eolc_fhir.demo.loader import load_region, stderr_progress
    from eolc_fhir.services.startup import build_context, close_context

    ctx = await build_context(Settings(database_url=url, insecure_dev=True))
    try:
        report = await load_region(ctx, patients=patients, seed=seed, jobs=os.cpu_count() or 1,
                                   progress=stderr_progress())
        print(f"  loaded {report.resources:,} resources in {report.seconds:.0f} s", flush=True)
    finally:
        await close_context(ctx)


def _start_eolc(url: str, workdir: Path, *, secure: bool = False, workers: int = 1,
                extra_env: dict[str, str] | None = None) -> Server:
    """``--insecure-dev``, or (secure) auth on with the demo clients' keys in workdir/keys;
    ``workers`` uvicorn processes (PostgreSQL for more than one)."""
    port = free_port()
    cli = Path(sys.executable).parent / "eolc-fhir"
    argv = [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port), "--database-url", url,
            "--workers", str(workers)]
    env = {**os.environ, "EOLC_LOG_LEVEL": "warning"}
    if secure:
        env |= {"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(workdir / "keys"),
                "EOLC_TOKEN_LIFETIME": "3600", "EOLC_RATE_LIMIT_PER_MINUTE": "0"}
    else:
        argv.append("--insecure-dev")
    env |= extra_env or {}
    log_path = workdir / f"eolc{'-secure' if secure else ''}-{workers}w.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    return Server("eolc-fhir", process, f"http://127.0.0.1:{port}", log_path)


def _crew_token(server: Server, workdir: Path, client: str = "demo-ambulance",
                scope: str | None = None) -> str:
    """An access token of a demo client (SMART Backend Services): by default the
    ambulance's (reads); demo-gp's with ``system/*.crus`` for writes."""
    cli = Path(sys.executable).parent / "eolc-fhir"
    argv = [str(cli), "token", "--client-id", client, "--key-file",
            str(workdir / "keys" / f"{client}.jwk.json"), "--url", server.base_url]
    argv += ["--scope", scope] if scope else []
    proc = subprocess.run(argv, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _inputs(workdir: Path, seed: int, patients: int) -> dict[str, Path]:
    """Path lists and bodies for the scenarios, from the region the loader made."""
    from datetime import date

    from eolc_fhir.demo.people import NhsNumbers, person_resources
    from eolc_fhir.demo.region import build_region

    region = build_region(seed, patients)
    numbers = NhsNumbers(seed)
    rng = random.Random(seed)
    sample = sorted(rng.sample(range(patients), min(patients, 2000)))
    by_index = {i: numbers.for_person(i) for i in range(patients)}
    everyone = list(range(patients))
    rng.shuffle(everyone)
    people = [person_resources(region, i, date.today(), by_index[i]) for i in sample[:50]]
    files = {
        "wishes": [f"/Patient/$wishes?identifier={NHS}|{by_index[i]}" for i in sample],
        # Everyone once, in random order: far more documents than the cache keeps.
        "wishes-cold": [f"/Patient/$wishes?identifier={NHS}|{by_index[i]}" for i in everyone],
        "read": [f"/Patient/{p[0]['id']}" for p in people],
        "search-nhs": [f"/Patient?identifier={NHS}|{by_index[i]}" for i in sample],
        "flags-by-practice": [f"/Flag?author=Organization/{o['id']}&code={SCT}|526631000000108"
                              f"&status=active&_count=50" for o in region.practices],
    }
    paths = {}
    for name, lines in files.items():
        paths[name] = workdir / f"{name}.txt"
        paths[name].write_text("\n".join(lines) + "\n")
    patient_ref = {"reference": f"Patient/{people[0][0]['id']}"}
    plan = next(r for p in people for r in p if r["resourceType"] == "CarePlan")
    paths["create"] = workdir / "careplan.json"
    paths["create"].write_bytes(orjson.dumps(
        {k: v for k, v in plan.items() if k != "id"} | {"subject": patient_ref}))
    place = next(r for p in people for r in p if r["resourceType"] == "Observation"
                 and r["code"]["coding"][0]["code"] == "preferred-place-of-death")
    body = {k: v for k, v in place.items() if k != "id"} | {"subject": patient_ref}
    entries = [{"fullUrl": f"urn:uuid:{n:08d}-0000-4000-8000-000000000000", "resource": body,
                "request": {"method": "POST", "url": "Observation"}} for n in range(20)]
    paths["transaction"] = workdir / "transaction.json"
    paths["transaction"].write_bytes(orjson.dumps(
        {"resourceType": "Bundle", "type": "transaction", "entry": entries}))
    return paths


def _measure_eolc(engine: str, server: Server, paths: dict[str, Path],
                  duration: float) -> list[Measurement]:
    out = []

    def run(scenario: str, script: str, connections: int, env: dict[str, str]) -> None:
        result = _wrk(server.base_url, script, connections, duration, env)
        out.append(Measurement(engine, "eolc-fhir", scenario, connections, result))
        print(f"  {engine:10} {scenario:28} c={connections:<3} {result.rps:8,.0f} req/s  "
              f"p50 {result.p50_ms:6.1f}  p99 {result.p99_ms:6.1f} ms  errors {result.errors}",
              flush=True)

    _warm(server.base_url, {"BENCH_PATHS": str(paths["wishes"])})
    for connections in CONNECTIONS:
        run("$wishes by NHS number", "paths.lua", connections,
            {"BENCH_PATHS": str(paths["wishes"])})
    run("$wishes, everyone once (cache misses)", "paths.lua", 16,
        {"BENCH_PATHS": str(paths["wishes-cold"])})
    run(READ, "paths.lua", 16, {"BENCH_PATHS": str(paths["read"])})
    run("search Patient by NHS number", "paths.lua", 16,
        {"BENCH_PATHS": str(paths["search-nhs"])})
    run("search register flags by practice", "paths.lua", 16,
        {"BENCH_PATHS": str(paths["flags-by-practice"])})
    run(CREATE, "post_to.lua", 16,
        {"BENCH_PATH": "/CarePlan", "BENCH_BODY": str(paths["create"])})
    run(TRANSACTION, "post_to.lua", 4,
        {"BENCH_PATH": "/", "BENCH_BODY": str(paths["transaction"])})
    return out


def _measure_baseline(workdir: Path, duration: float) -> list[Measurement]:
    workdir.mkdir(parents=True, exist_ok=True)
    server = start_baseline(workdir)
    try:
        server.wait_ready()
        ids = seed_baseline(server, 1000)
        ids_file = workdir / "baseline-paths.txt"
        ids_file.write_text("\n".join(f"/Patient/{i}" for i in ids) + "\n")
        out = []
        for connections in CONNECTIONS:
            result = _wrk(server.base_url, "paths.lua", connections, duration,
                          {"BENCH_PATHS": str(ids_file)})
            out.append(Measurement("-", "baseline", "read by id (bare Starlette+sqlite3)",
                                   connections, result))
            print(f"  baseline read c={connections:<3} {result.rps:8,.0f} req/s  "
                  f"p50 {result.p50_ms:6.1f}  p99 {result.p99_ms:6.1f} ms", flush=True)
        return out
    finally:
        server.stop()


def _engine_url(engine: str, workdir: Path, pg: list[Any]) -> str:
    if engine == "sqlite":
        return f"sqlite+aiosqlite:///{workdir}/eolc.db"
    if not pg:
        from tests._pg import start_pg_server

        pg.append(start_pg_server())
    return str(pg[0].url(pg[0].create_database()))


def _run_engine(engine: str, args: argparse.Namespace, work: Path, pg: list[Any],
                notes: list[str]) -> list[Measurement]:
    workdir = work / engine
    workdir.mkdir()
    url = _engine_url(engine, workdir, pg)
    print(f"{engine}: loading {args.patients:,} patients", flush=True)
    asyncio.run(_load(url, args.patients, args.seed))
    paths = _inputs(workdir, args.seed, args.patients)
    floor = (sqlite_floor(args.duration, workdir) if engine == "sqlite"
             else asyncpg_floor(url, args.duration, 16))
    print(f"  {engine:10} {FLOOR}: {floor.rps:8,.0f} commits/s  p50 {floor.p50_ms:6.2f}  "
          f"p99 {floor.p99_ms:6.2f} ms", flush=True)
    floor_row = Measurement(engine, "floor", FLOOR, 1 if engine == "sqlite" else 16, floor)
    server = _start_eolc(url, workdir)
    try:
        server.wait_ready()
        rows = _measure_eolc(engine, server, paths, args.duration)
        rss = server.peak_rss_kib() / 1024
        notes.append(f"Peak RSS of the eolc-fhir server ({engine}, whole run): {rss:,.0f} MiB")
        print(f"  {engine} server peak RSS {rss:,.0f} MiB", flush=True)
    finally:
        server.stop()
    if engine == "postgresql":
        asyncio.run(_vacuum(url))
    return [floor_row, *rows, *_measure_secure(engine, url, workdir, paths, args.duration)]


async def _vacuum(url: str) -> None:
    """VACUUM ANALYZE after the unaudited runs' writes, as the loader does after its load.

    Otherwise autovacuum takes up the tables those writes grew about a minute later, in the
    middle of the audited runs: PostgreSQL's log showed eleven tables vacuumed and analysed
    over 8 s (pg_statistic 1.9 s, idx_token 1.4 s) during the secured server's warm-up and
    one-client `$wishes` run, on the two cores the server and wrk use too; that run's p99
    was 7-49 ms in three of four benchmark runs, and 1.6-2.2 ms outside them."""
    from eolc_fhir.storage.database import Database

    db = Database(url)
    try:
        await db.analyze()  # the loader's own VACUUM ANALYZE (storage/bulk.py)
    finally:
        await db.close()


def _measure_secure(engine: str, url: str, workdir: Path, paths: dict[str, Path],
                    duration: float) -> list[Measurement]:
    """As in production: token checked, every read audited, every write with its Provenance
    and AuditEvent. $wishes and reads with the ambulance's token, creates with the GP's."""
    server = _start_eolc(url, workdir, secure=True)
    out = []

    def run(scenario: str, script: str, connections: int, env: dict[str, str]) -> None:
        result = _wrk(server.base_url, script, connections, duration, env)
        print(f"  {engine:10} {scenario + ', auth on':28} c={connections:<3} "
              f"{result.rps:8,.0f} req/s  p50 {result.p50_ms:6.1f}  "
              f"p99 {result.p99_ms:6.1f} ms  errors {result.errors}", flush=True)
        out.append(Measurement(engine, "eolc-fhir (auth on)", scenario, connections, result))

    try:
        server.wait_ready()
        crew = _crew_token(server, workdir)
        env = {"BENCH_PATHS": str(paths["wishes"]), "BENCH_TOKEN": crew}
        _warm(server.base_url, env)
        for connections in (1, 16):
            run("$wishes, auth on (ambulance token) + audit", "paths.lua", connections, env)
        run(READ, "paths.lua", 16, {"BENCH_PATHS": str(paths["read"]), "BENCH_TOKEN": crew})
        gp = _crew_token(server, workdir, "demo-gp", "system/*.crus")
        run(CREATE, "post_to.lua", 16, {"BENCH_PATH": "/CarePlan", "BENCH_TOKEN": gp,
                                        "BENCH_BODY": str(paths["create"])})
        return out
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.service_bench",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-subscriptions", action="store_true",
                        help="skip the notification-latency run (bench.subscriptions_bench)")
    args = parser.parse_args(argv)
    if not wrk_available():
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    work = Path(tempfile.mkdtemp(prefix="eolc-service-bench-"))
    pg: list[Any] = []
    rows: list[Measurement] = []
    rss_notes: list[str] = []
    began = time.time()
    try:
        rows += _measure_baseline(work / "baseline", args.duration)
        for engine in args.engines.split(","):
            rows += _run_engine(engine, args, work, pg, rss_notes)
    finally:
        for server in pg:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    header = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(began)),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}, wrk on the same cores",
        "data": f"{args.patients:,} patients (demo region, seed {args.seed}) per engine",
        "load": f"wrk, 1 thread, {args.duration:g} s per measurement",
        "servers": "1 uvicorn worker, --insecure-dev (auth on for the row that says so), "
                   "log level warning; PostgreSQL 15 "
                   "from the test helper (fsync off)",
    }
    notes = [*rss_notes, ""]
    notes += [] if args.no_subscriptions else _notification_latency()
    _write(rows, header, notes)
    return 0


def _notification_latency() -> list[str]:
    """Run bench.subscriptions_bench (its defaults) and keep its summary lines."""
    if not (Path(__file__).parent / "subscriptions_bench.py").exists():
        return ["No subscription benchmark in this checkout: notification latency not measured."]
    print("subscriptions: bench.subscriptions_bench", flush=True)
    proc = subprocess.run([sys.executable, "-m", "bench.subscriptions_bench"], cwd=REPO,
                          capture_output=True, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("#", "Latency", "Throughput"))]
    if proc.returncode != 0 or not lines:
        return [f"bench.subscriptions_bench failed (exit {proc.returncode})."]
    return ["Notification delivery (bench.subscriptions_bench, SQLite, same run):", "",
            *[ln.lstrip("# ") for ln in lines]]


def _write(rows: list[Measurement], header: dict[str, str], notes: list[str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    markdown = render_markdown(rows, header, png_name=f"{stamp}-service.png")
    markdown += "\n" + "\n".join(notes) + "\n" if notes else ""
    (RESULTS / f"{stamp}-service.md").write_text(markdown)
    (RESULTS / f"{stamp}-service.json").write_text(json.dumps(
        {"header": header, "rows": [asdict(r) | {"rps": r.result.rps} for r in rows]}, indent=2))
    render_png(rows, RESULTS / f"{stamp}-service.png")  # matplotlib: a main dependency
    print(markdown)
    print(f"written to {RESULTS}/{stamp}-service.md (+ .json, .png)")


if __name__ == "__main__":
    raise SystemExit(main())
