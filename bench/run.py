"""Benchmark: read-by-id and create against eolc-fhir and the bare baseline, in one run.

    python -m bench.run [--duration 10] [--connections 20] [--repeat 3] [--also fastapi-floor]

Each repeat starts every target fresh on an empty SQLite file, seeds it through its own
POST endpoint, warms up, then measures reads (cycling over the seeded ids) and creates.
Results go to bench/results/ (markdown and JSON) and to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import httpx

from bench.data import synthetic_patient
from bench.load import LoadResult, Scenario, run_load, wrk_available
from bench.report import TargetRuns, render_markdown
from bench.servers import Server, start_baseline, start_eolc, start_fastapi_floor

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
TARGETS: dict[str, Callable[[Path], Server]] = {
    "baseline": start_baseline,
    "eolc-fhir": start_eolc,
    "fastapi-floor": start_fastapi_floor,  # optional: FastAPI's own cost, for context
}
DEFAULT_TARGETS = ["baseline", "eolc-fhir"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of reads before")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--repeat", type=int, default=3, help="report the median run")
    parser.add_argument("--seed-count", type=int, default=1000, help="resources seeded")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--only", choices=sorted(TARGETS), action="append",
                        help="run only these targets (repeatable)")
    parser.add_argument("--also", choices=sorted(TARGETS), action="append", default=[],
                        help="add a target, e.g. --also fastapi-floor")
    parser.add_argument("--scenarios", default="read,create", help="comma-separated")
    return parser.parse_args(argv)


def _choose_generator(wanted: str) -> str:
    if wanted == "python" or (wanted == "auto" and not wrk_available()):
        if wanted == "auto":
            print("wrk not found (apt-get install -y wrk): using the slower Python generator,"
                  " which may itself be the bottleneck")
        return "python"
    if not wrk_available():
        raise SystemExit("wrk requested but not installed (apt-get install -y wrk)")
    return "wrk"


def _id_from_location(location: str) -> str:
    parts = location.split("/")
    return parts[parts.index("Patient") + 1]


def seed(server: Server, count: int) -> list[str]:
    """Create ``count`` patients through the target's own POST; return their ids."""
    ids = []
    headers = {"Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=server.base_url, timeout=30.0, headers=headers) as client:
        for number in range(count):
            response = client.post("/Patient", content=json.dumps(synthetic_patient(number)))
            if response.status_code != 201:
                raise RuntimeError(f"{server.name}: seeding got {response.status_code}: "
                                   f"{response.text[:500]}")
            ids.append(_id_from_location(response.headers["Location"]))
        check = client.get(f"/Patient/{ids[0]}")
        if check.status_code != 200 or check.json().get("resourceType") != "Patient":
            raise RuntimeError(f"{server.name}: read-back failed: {check.status_code}")
    return ids


def _measure_target(
    name: str, workdir: Path, args: argparse.Namespace, generator: str, body: Path
) -> tuple[dict[str, LoadResult], int]:
    workdir.mkdir(parents=True)
    server = TARGETS[name](workdir)
    try:
        server.wait_ready()
        ids_file = workdir / "ids.txt"
        ids_file.write_text("\n".join(seed(server, args.seed_count)) + "\n")
        common = dict(connections=args.connections, threads=args.threads,
                      ids_file=ids_file, body_file=body)
        run_load(generator, server.base_url, "read", duration=args.warmup, **common)
        results = {}
        for scenario in args.scenarios.split(","):
            kind: Scenario = "read" if scenario == "read" else "create"
            results[scenario] = run_load(generator, server.base_url, kind,
                                         duration=args.duration, **common)
            print(f"  {name:10} {scenario:6} {results[scenario].rps:9,.0f} req/s  "
                  f"p50 {results[scenario].p50_ms:.1f} ms  p99 {results[scenario].p99_ms:.1f} ms")
        return results, server.peak_rss_kib()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    generator = _choose_generator(args.generator)
    names = args.only or DEFAULT_TARGETS + [n for n in args.also if n not in DEFAULT_TARGETS]
    runs = {name: TargetRuns(name) for name in names}
    work = Path(tempfile.mkdtemp(prefix="eolc-bench-"))
    try:
        body = work / "body.json"
        body.write_text(json.dumps(synthetic_patient(10**6)))
        for repeat in range(args.repeat):
            for name in names:  # alternate targets so machine drift hits both alike
                results, rss = _measure_target(name, work / f"{repeat}-{name}", args,
                                               generator, body)
                for scenario, result in results.items():
                    runs[name].runs.setdefault(scenario, []).append(result)
                runs[name].peak_rss_kib.append(rss)
        header = _header(args, generator, body.stat().st_size)
        _write(render_markdown(list(runs.values()), header), runs, header)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _header(args: argparse.Namespace, generator: str, body_bytes: int) -> dict[str, str]:
    header = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                   f"{platform.python_version()}; load generator on the same cores",
        "load": f"{generator}, {args.connections} connections, {args.threads} thread(s), "
                f"{args.duration:g} s per scenario after {args.warmup:g} s warm-up, "
                f"median of {args.repeat} run(s)",
        "data": f"{args.seed_count} Patients seeded per target via POST; "
                f"create body {body_bytes} bytes",
        "servers": "1 uvicorn worker each, log level warning, no access log; "
                   "eolc-fhir with --insecure-dev on a fresh SQLite file",
    }
    if generator == "python":
        header["caution"] = ("the Python generator tops out near 1,000 req/s on 2 cores, so "
                             "faster targets look alike: install wrk for real ratios")
    return header


def _write(markdown: str, runs: dict[str, TargetRuns], header: dict[str, str]) -> None:
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    (RESULTS / f"{stamp}-read-create.md").write_text(markdown)
    raw = {"header": header, "targets": {
        name: {"runs": {s: [asdict(r) | {"rps": r.rps} for r in rs] for s, rs in t.runs.items()},
               "peak_rss_kib": t.peak_rss_kib} for name, t in runs.items()}}
    (RESULTS / f"{stamp}-read-create.json").write_text(json.dumps(raw, indent=2))
    print(markdown)
    print(f"written to {RESULTS}/{stamp}-read-create.md")


if __name__ == "__main__":
    raise SystemExit(main())
