"""`serve --workers N` on PostgreSQL: throughput of 1 against 2 worker processes, same run.

    python -m bench.workers_bench [--patients 2000] [--duration 8] [--rounds 2]
                                  [--workers 1,2] [--connections 16]

One PostgreSQL database gets the synthetic region; then, round after round (the
order of the worker counts reversed every other round, so that a machine
getting busier does not favour one), ``eolc-fhir serve --workers N`` runs with
--insecure-dev and again with authentication on (an ambulance token, every
request audited, the rate limiter on with a limit no run reaches, so that its
shared window is exercised), and wrk drives $wishes by NHS number and
read-by-id at ``--connections``. wrk shares the cores with the server. Prints
the medians per configuration, the ratio of each worker count to the first,
the peak RSS of each worker process, and for each run how busy the whole machine was
and how many cores' worth the server's processes used (``bench/cpu.py``): a machine
already near 100% busy with one worker has no core left for a second.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.cpu import CpuMeter
from bench.load import wrk_available
from bench.servers import Server, _children, _vm_hwm
from bench.service_bench import (
    _crew_token,
    _engine_url,
    _inputs,
    _load,
    _start_eolc,
    _warm,
    _wrk,
)

__all__ = ["main"]

_HIGH_LIMIT = {"EOLC_RATE_LIMIT_PER_MINUTE": "60000000", "EOLC_RATE_LIMIT_BURST": "1000000"}


def _wait_for_workers(server: Server, workers: int, timeout: float = 120.0) -> None:
    """Until as many distinct processes have answered /healthz (new connection each)."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < workers:
        if time.monotonic() > deadline or server.process.poll() is not None:
            raise RuntimeError(f"only {len(seen)} of {workers} workers; see {server.log_path}")
        try:
            seen.add(httpx.get(server.base_url + "/healthz", timeout=2).json()["process"])
        except httpx.TransportError:
            time.sleep(0.2)


def _worker_peaks_mib(server: Server) -> list[float]:
    """Peak RSS of each uvicorn worker (the children; the server itself with one worker)."""
    pids = [p for p in _children(server.process.pid) if "spawn" in _cmdline(p)]
    return [_vm_hwm(p) / 1024 for p in pids or [server.process.pid]]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _one(url: str, workdir: Path, paths: dict[str, Path], workers: int, secure: bool,
         args: argparse.Namespace) -> tuple[dict[str, float], list[float]]:
    server = _start_eolc(url, workdir, secure=secure, workers=workers,
                         extra_env=_HIGH_LIMIT if secure else None)
    try:
        _wait_for_workers(server, workers)
        env = {"BENCH_TOKEN": _crew_token(server, workdir)} if secure else {}
        rates = {}
        for scenario, listing in (("$wishes", "wishes"), ("read by id", "read")):
            run_env = {**env, "BENCH_PATHS": str(paths[listing])}
            _warm(server.base_url, run_env)
            meter = CpuMeter([server.process.pid, *_children(server.process.pid)])
            meter.start()
            result = _wrk(server.base_url, "paths.lua", args.connections, args.duration,
                          run_env)
            cpu = meter.stop()
            rates[scenario] = result.rps
            mode = "auth on" if secure else "insecure-dev"
            print(f"  workers={workers} {mode:12} {scenario:11} {result.rps:8,.0f} req/s  "
                  f"p50 {result.p50_ms:6.1f}  p99 {result.p99_ms:6.1f} ms  "
                  f"errors {result.errors}  {cpu.text()}", flush=True)
        return rates, _worker_peaks_mib(server)
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers_bench",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not wrk_available():
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    counts = [int(n) for n in args.workers.split(",")]
    work = Path(tempfile.mkdtemp(prefix="eolc-workers-bench-"))
    pg: list[Any] = []
    rates: dict[tuple[int, str, str], list[float]] = {}
    peaks: dict[tuple[int, str], list[float]] = {}
    try:
        url = _engine_url("postgresql", work, pg)
        print(f"loading {args.patients:,} patients", flush=True)
        asyncio.run(_load(url, args.patients, args.seed))
        paths = _inputs(work, args.seed, args.patients)
        for round_no in range(args.rounds):
            order = counts if round_no % 2 == 0 else counts[::-1]
            for secure in (False, True):
                mode = "auth on" if secure else "insecure-dev"
                for workers in order:
                    found, rss = _one(url, work, paths, workers, secure, args)
                    for scenario, rps in found.items():
                        rates.setdefault((workers, mode, scenario), []).append(rps)
                    peaks.setdefault((workers, mode), []).extend(rss)
    finally:
        for server in pg:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    _report(rates, peaks, counts, args)
    return 0


def _report(rates: dict[tuple[int, str, str], list[float]],
            peaks: dict[tuple[int, str], list[float]], counts: list[int],
            args: argparse.Namespace) -> None:
    print(f"\nmedians of {args.rounds} round(s), {args.duration:g} s each, "
          f"{args.connections} connections, wrk on the same cores")
    print("| mode | scenario | " + " | ".join(f"{n} worker(s) req/s" for n in counts)
          + " | ratio |")
    print("|---|---|" + "---|" * len(counts) + "---|")
    for mode in ("insecure-dev", "auth on"):
        for scenario in ("$wishes", "read by id"):
            medians = [statistics.median(rates[(n, mode, scenario)]) for n in counts]
            ratio = medians[-1] / medians[0] if medians[0] else 0.0
            print(f"| {mode} | {scenario} | " + " | ".join(f"{m:,.0f}" for m in medians)
                  + f" | {ratio:.2f}× |")
    for (workers, mode), values in sorted(peaks.items()):
        print(f"peak RSS per worker, {workers} worker(s), {mode}: "
              + ", ".join(f"{v:.0f}" for v in values) + " MiB")


if __name__ == "__main__":
    raise SystemExit(main())
