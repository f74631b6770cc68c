"""Subscription delivery benchmark: N webhook receivers on loopback, a write load of Flags.

    python -m bench.subscriptions_bench [--subscribers 100] [--rate 5] [--seconds 10]
                                        [--burst 200] [--database-url URL]

A real ``eolc-fhir serve`` process (with its in-process dispatcher) is started on a
fresh database; N Subscriptions to the register-entry topic (no filter, id-only)
point at N lean receivers in a process of their own (bench.subscription_receivers),
so that the harness is not what is slow. Two phases:

1. latency: ``rate`` register entries per second for ``seconds``; every change
   fans out to all N subscribers. Change-to-receipt latency = arrival time at the
   receiver minus the change's lastUpdated (the event timestamp), same clock.
   Events/s and POSTs/s here are sustained rates at a load the dispatcher keeps up
   with (raise ``--rate`` to find where it stops keeping up: the latency grows).
2. throughput: ``burst`` register entries written as fast as 8 writers can; the
   time from the first write to the last event received gives events/s (and
   webhook POSTs/s: batching packs up to maxCount events in one POST).

Results go to bench/results/<stamp>-subscriptions.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.builders import make_register_flag
from tests.unit.subscriptions.support import subscription

REPO = Path(__file__).resolve().parents[1]
FHIR = {"Content-Type": "application/fhir+json"}
EXTRA_ENV: dict[str, str] = {}
PROFILE: list[str] = []  # --profile PATH: the server runs under cProfile (bench.profiled_serve)


class Receivers:
    """The webhook receivers, in their own process (bench.subscription_receivers)."""

    def __init__(self, proc: asyncio.subprocess.Process, ports: list[int]) -> None:
        self.proc = proc
        self.ports = ports

    @classmethod
    async def start(cls, count: int) -> Receivers:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.subscription_receivers", "--count", str(count),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=REPO,
            limit=64 * 1024 * 1024)
        assert proc.stdout is not None
        return cls(proc, json.loads(await proc.stdout.readline()))

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}/hook" for port in self.ports]

    async def ask(self, command: str) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return json.loads(await self.proc.stdout.readline())

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.ask("quit")
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        await self.proc.wait()


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EOLC_BASE_URL": f"http://127.0.0.1:{port}",
           "EOLC_LOG_LEVEL": os.environ.get("EOLC_LOG_LEVEL", "warning"), **EXTRA_ENV}
    module = "eolc_fhir.cli"
    if PROFILE:
        module, env["PROFILE_OUT"] = "bench.profiled_serve", PROFILE[0]
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", module, "serve", "--port", str(port),
             "--insecure-dev", "--database-url", database_url],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=REPO)


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(300):
            try:
                if (await http.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("server did not start")


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def wait_events(receivers: Receivers, expected: int, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats: dict[str, Any] = await receivers.ask("stats")
        if stats["events"] >= expected or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.05)


async def latency_phase(http: httpx.AsyncClient, receivers: Receivers, subs: int, rate: float,
                        seconds: float) -> dict[str, Any]:
    await receivers.ask("latencies")  # drop the handshakes' figures
    before = await receivers.ask("stats")
    start_events, start_posts = before["events"], before["posts"]
    writes = int(rate * seconds)
    begin, begin_ns = time.monotonic(), time.time_ns()
    for i in range(writes):  # on a fixed schedule: a slow write does not lower the rate
        await asyncio.sleep(max(0.0, begin + i / rate - time.monotonic()))
        await http.post("/Flag", json=make_register_flag())
    stats = await wait_events(receivers, start_events + writes * subs, 60)
    lat: list[float] = await receivers.ask("latencies")
    events, posts = stats["events"] - start_events, stats["posts"] - start_posts
    elapsed = (stats["last_ns"] - begin_ns) / 1e9
    return {"writes": writes, "rate": rate, "events": events,
            "expected_events": writes * subs, "p50_ms": round(pct(lat, 0.5), 1),
            "p99_ms": round(pct(lat, 0.99), 1), "max_ms": round(max(lat), 1) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 1) if lat else None,
            "posts": posts, "seconds_to_last_receipt": round(elapsed, 2),
            "events_per_s": round(events / elapsed), "posts_per_s": round(posts / elapsed),
            "events_per_post": round(events / max(1, posts), 2)}


async def throughput_phase(http: httpx.AsyncClient, receivers: Receivers, subs: int,
                           burst: int) -> dict[str, Any]:
    before = await receivers.ask("stats")
    start_events, start_posts = before["events"], before["posts"]
    begin = time.monotonic_ns()
    queue = list(range(burst))

    async def writer() -> None:
        while queue:
            queue.pop()
            await http.post("/Flag", json=make_register_flag())

    await asyncio.gather(*(writer() for _ in range(8)))
    written_s = (time.monotonic_ns() - begin) / 1e9
    stats = await wait_events(receivers, start_events + burst * subs, 180)
    events = stats["events"] - start_events
    posts = stats["posts"] - start_posts
    elapsed = (stats["last_ns"] - (time.time_ns() - (time.monotonic_ns() - begin))) / 1e9
    return {"writes": burst, "write_seconds": round(written_s, 2),
            "events": events, "expected_events": burst * subs, "posts": posts,
            "seconds_to_last_receipt": round(elapsed, 2),
            "events_per_s": round(events / elapsed), "posts_per_s": round(posts / elapsed),
            "events_per_post": round(events / max(1, posts), 1)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.servers import free_port

    tmp = Path(tempfile.mkdtemp(prefix="eolc-subbench-"))
    url = args.database_url or f"sqlite+aiosqlite:///{tmp}/bench.db"
    port = free_port()
    server = start_server(url, port, tmp / "server.log")
    base = f"http://127.0.0.1:{port}"
    receivers = await Receivers.start(args.subscribers)
    try:
        await wait_ready(base)
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=base, headers=FHIR, timeout=60,
                                     limits=limits) as http:
            for url in receivers.urls():
                created = await http.post("/Subscription", json=subscription(
                    url, "register-entry", secret="bench", timeout=10))
                assert created.status_code == 201, created.text
            for _ in range(600):  # every handshake done before measuring
                if (await receivers.ask("stats"))["handshakes"] >= args.subscribers:
                    break
                await asyncio.sleep(0.05)
            latency = await latency_phase(http, receivers, args.subscribers, args.rate,
                                          args.seconds)
            throughput = await throughput_phase(http, receivers, args.subscribers, args.burst)
        rss_mib = peak_rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
        await receivers.stop()
    return {"subscribers": args.subscribers, "database": url.split(":", 1)[0],
            "server_peak_rss_mib": rss_mib, "latency": latency, "throughput": throughput}


def report(result: dict[str, Any]) -> str:
    lat, thr = result["latency"], result["throughput"]
    return "\n".join([
        f"# Subscription delivery, {result['subscribers']} subscribers ({result['database']})",
        "",
        f"Latency phase: {lat['writes']} writes ({lat['rate']}/s), "
        f"{lat['events']}/{lat['expected_events']} events: change-to-receipt p50 "
        f"{lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms; "
        f"{lat['events_per_s']} events/s in {lat['posts_per_s']} POSTs/s "
        f"({lat['events_per_post']} events per POST).",
        f"Throughput phase: {thr['writes']} writes in {thr['write_seconds']} s, "
        f"{thr['events']}/{thr['expected_events']} events received in "
        f"{thr['seconds_to_last_receipt']} s: {thr['events_per_s']} events/s, "
        f"{thr['posts_per_s']} POSTs/s ({thr['events_per_post']} events per POST).",
        f"Server peak RSS: {result['server_peak_rss_mib']} MiB.",
        ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="writes/s in the latency phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--database-url")
    parser.add_argument("--concurrency", type=int, help="EOLC_DELIVERY_CONCURRENCY")
    parser.add_argument("--profile", help="run the server under cProfile, stats to this file")
    args = parser.parse_args(argv)
    if args.profile:
        PROFILE.append(args.profile)
    if args.concurrency:
        EXTRA_ENV["EOLC_DELIVERY_CONCURRENCY"] = str(args.concurrency)
    result = asyncio.run(run(args))
    text = report(result)
    print(text)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stamp}-subscriptions.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / f"{stamp}-subscriptions.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
