"""Load generators: wrk (preferred) or a Python asyncio+httpx fallback, same for every target."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx

__all__ = ["LoadResult", "Scenario", "run_load", "wrk_available"]

Scenario = Literal["read", "create"]
_WRK_DIR = Path(__file__).resolve().parent / "wrk"
_EXPECTED = {"read": 200, "create": 201}


@dataclass(frozen=True)
class LoadResult:
    """Throughput and latency of one timed run."""

    generator: str
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_load(
    generator: str, base_url: str, scenario: Scenario, *, duration: float, connections: int,
    threads: int, ids_file: Path, body_file: Path,
) -> LoadResult:
    if generator == "wrk":
        return _run_wrk(base_url, scenario, duration, connections, threads, ids_file, body_file)
    ids = ids_file.read_text().split()
    return asyncio.run(_run_python(base_url, scenario, duration, connections, ids,
                                   body_file.read_bytes()))


def _run_wrk(
    base_url: str, scenario: Scenario, duration: float, connections: int, threads: int,
    ids_file: Path, body_file: Path,
) -> LoadResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s"]
    argv += ["--timeout", "10s", "-s", str(_WRK_DIR / f"{scenario}.lua"), base_url]
    env = {**os.environ, "BENCH_WRK_DIR": str(_WRK_DIR), "BENCH_IDS": str(ids_file),
           "BENCH_BODY": str(body_file)}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    errors = sum(raw[k] for k in raw if k.startswith("errors_"))
    return LoadResult(
        "wrk", raw["requests"], raw["duration_us"] / 1e6, raw["p50_us"] / 1e3,
        raw["p90_us"] / 1e3, raw["p99_us"] / 1e3, raw["max_us"] / 1e3, errors,
    )


async def _run_python(
    base_url: str, scenario: Scenario, duration: float, connections: int, ids: list[str],
    body: bytes,
) -> LoadResult:
    latencies: list[float] = []
    errors = [0]
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    async with httpx.AsyncClient(base_url=base_url, limits=limits, headers=headers,
                                 timeout=10.0) as client:
        start = time.perf_counter()
        deadline = start + duration
        workers = [
            _worker(client, scenario, ids, body, offset, deadline, latencies, errors)
            for offset in range(connections)
        ]
        await asyncio.gather(*workers)
        elapsed = time.perf_counter() - start
    latencies.sort()
    return LoadResult("python-httpx", len(latencies), elapsed, _pct(latencies, 50),
                      _pct(latencies, 90), _pct(latencies, 99), _pct(latencies, 100), errors[0])


async def _worker(
    client: httpx.AsyncClient, scenario: Scenario, ids: list[str], body: bytes, offset: int,
    deadline: float, latencies: list[float], errors: list[int],
) -> None:
    index = offset * 7919  # spread workers over the ids
    while (began := time.perf_counter()) < deadline:
        try:
            if scenario == "read":
                index += 1
                response = await client.get(f"/Patient/{ids[index % len(ids)]}")
            else:
                response = await client.post("/Patient", content=body)
            if response.status_code != _EXPECTED[scenario]:
                errors[0] += 1
        except httpx.HTTPError:
            errors[0] += 1
        latencies.append((time.perf_counter() - began) * 1000)


def _pct(sorted_ms: list[float], percentile: float) -> float:
    if not sorted_ms:
        return 0.0
    rank = min(len(sorted_ms) - 1, max(0, round(percentile / 100 * len(sorted_ms)) - 1))
    return sorted_ms[rank]
