"""Search scenarios over HTTP: `eolc-fhir serve` on a loaded database, driven by wrk."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.servers import Server, _spawn, free_port, start_baseline

__all__ = ["run_http", "run_baseline"]

_WRK_DIR = Path(__file__).resolve().parent / "wrk"
Params = list[tuple[str, str]]


def _start(url: str, workdir: Path) -> Server:
    port = free_port()
    cli = Path(sys.executable).parent / "eolc-fhir"
    argv = [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port),
            "--database-url", url, "--insecure-dev"]
    return _spawn("eolc-fhir-search", argv, port, workdir, {"EOLC_LOG_LEVEL": "warning"})


def _wrk(base_url: str, paths_file: Path, duration: int, connections: int) -> dict[str, Any]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
            "-s", str(_WRK_DIR / "paths.lua"), base_url]
    env = {**os.environ, "BENCH_WRK_DIR": str(_WRK_DIR), "BENCH_PATHS": str(paths_file)}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON "))
    raw: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return raw


def run_http(url: str, n: int, workdir: Path,
             scenarios: list[tuple[str, str, Callable[[random.Random, int], Params]]],
             *, duration: int = 10, connections: int = 16) -> list[dict[str, Any]]:
    """p50/p99/req/s per scenario through the real server (uvicorn, FastAPI, auth off)."""
    server = _start(url, workdir)
    results = []
    try:
        server.wait_ready()
        for name, rtype, make in scenarios:
            rng = random.Random(5)
            paths = [f"/{rtype}?{urlencode(make(rng, n))}" for _ in range(2000)]
            paths_file = workdir / "paths.txt"
            paths_file.write_text("\n".join(paths) + "\n")
            _wrk(server.base_url, paths_file, 2, connections)  # warm up
            raw = _wrk(server.base_url, paths_file, duration, connections)
            errors = sum(v for k, v in raw.items() if k.startswith("errors_"))
            results.append({
                "scenario": name, "requests": raw["requests"],
                "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
                "req_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
                "errors": errors,
            })
            print(f"  http {results[-1]}", flush=True)
    finally:
        server.stop()
    return results


def run_baseline(workdir: Path, *, duration: int = 10, connections: int = 16) -> dict[str, Any]:
    """The bare Starlette + sqlite3 app (GET by key, misses) under the same load: the floor."""
    server = start_baseline(workdir)
    try:
        server.wait_ready()
        paths_file = workdir / "baseline-paths.txt"
        paths_file.write_text("\n".join(f"/Patient/k{i}" for i in range(1000)) + "\n")
        _wrk(server.base_url, paths_file, 2, connections)
        raw = _wrk(server.base_url, paths_file, duration, connections)
    finally:
        server.stop()
    result = {"scenario": "baseline: bare Starlette + sqlite3 by key", "requests": raw["requests"],
              "p50_ms": round(raw["p50_us"] / 1000, 2), "p99_ms": round(raw["p99_us"] / 1000, 2),
              "req_per_s": round(raw["requests"] / (raw["duration_us"] / 1e6), 1)}
    print(f"  http {result}", flush=True)
    return result
