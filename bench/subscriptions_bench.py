"""Subscription delivery benchmark: N webhook receivers on loopback, a write load of Flags.

    python -m bench.subscriptions_bench [--subscribers 100] [--rate 5] [--seconds 10]
                                        [--burst 200] [--database-url URL]

A real ``eolc-fhir serve`` process (with its in-process dispatcher) is started on a
fresh database; N Subscriptions to the register-entry topic (no filter, id-only)
point at N receivers in this process. Two phases:

1. latency: ``rate`` register entries per second for ``seconds``; every change
   fans out to all N subscribers. Change-to-receipt latency = arrival time at the
   receiver minus the change's lastUpdated (the event timestamp), same clock.
2. throughput: ``burst`` register entries written as fast as 8 writers can; the
   time from the first write to the last event received gives events/s (and
   webhook POSTs/s: batching packs up to maxCount events in one POST).

Results go to bench/results/<stamp>-subscriptions.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
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

from eolc_fhir.fhir.instant import from_instant
from eolc_fhir.subscriptions.receiver import Received, Receiver
from tests.builders import make_register_flag
from tests.unit.subscriptions.support import subscription

REPO = Path(__file__).resolve().parents[1]
FHIR = {"Content-Type": "application/fhir+json"}
EXTRA_ENV: dict[str, str] = {}


class Collector:
    """Latency of every event (first arrival only) and counts of POSTs."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.events = 0
        self.posts = 0
        self.seen: set[tuple[str, int]] = set()
        self.last_ns = 0
        self.handshakes = 0

    def __call__(self, item: Received) -> None:
        self.posts += 1
        self.last_ns = item.at_ns
        params = json.loads(item.body)["entry"][0]["resource"]["parameter"]
        sub = next(p["valueReference"]["reference"] for p in params if p["name"] == "subscription")
        if any(p.get("valueCode") == "handshake" for p in params):
            self.handshakes += 1
        for p in params:
            if p["name"] != "notification-event":
                continue
            parts = {q["name"]: q for q in p["part"]}
            key = (sub, int(parts["event-number"]["valueString"]))
            if key in self.seen:
                continue
            self.seen.add(key)
            self.events += 1
            stamp_us = from_instant(parts["timestamp"]["valueInstant"])
            self.latencies_ms.append((item.at_ns / 1000 - stamp_us) / 1000)


def start_server(database_url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EOLC_BASE_URL": f"http://127.0.0.1:{port}",
           "EOLC_LOG_LEVEL": os.environ.get("EOLC_LOG_LEVEL", "warning"), **EXTRA_ENV}
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "eolc_fhir.cli", "serve", "--port", str(port),
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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def wait_events(collector: Collector, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while collector.events < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def latency_phase(http: httpx.AsyncClient, collector: Collector, subs: int, rate: float,
                        seconds: float) -> dict[str, Any]:
    collector.latencies_ms.clear()
    start_events = collector.events
    writes = int(rate * seconds)
    for _ in range(writes):
        due = time.monotonic() + 1 / rate
        await http.post("/Flag", json=make_register_flag())
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    await wait_events(collector, start_events + writes * subs, 60)
    lat = collector.latencies_ms
    return {"writes": writes, "events": collector.events - start_events,
            "expected_events": writes * subs, "p50_ms": round(pct(lat, 0.5), 1),
            "p99_ms": round(pct(lat, 0.99), 1), "max_ms": round(max(lat), 1) if lat else None,
            "mean_ms": round(statistics.fmean(lat), 1) if lat else None}


async def throughput_phase(http: httpx.AsyncClient, collector: Collector, subs: int,
                           burst: int) -> dict[str, Any]:
    start_events, start_posts = collector.events, collector.posts
    begin = time.monotonic_ns()
    queue = list(range(burst))

    async def writer() -> None:
        while queue:
            queue.pop()
            await http.post("/Flag", json=make_register_flag())

    await asyncio.gather(*(writer() for _ in range(8)))
    written_s = (time.monotonic_ns() - begin) / 1e9
    await wait_events(collector, start_events + burst * subs, 180)
    events = collector.events - start_events
    posts = collector.posts - start_posts
    elapsed = (collector.last_ns - (time.time_ns() - (time.monotonic_ns() - begin))) / 1e9
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
    collector = Collector()
    receivers = [await Receiver(keep=False, on_receive=collector).start()
                 for _ in range(args.subscribers)]
    try:
        await wait_ready(base)
        limits = httpx.Limits(max_connections=20)
        async with httpx.AsyncClient(base_url=base, headers=FHIR, timeout=60,
                                     limits=limits) as http:
            for rec in receivers:
                created = await http.post("/Subscription", json=subscription(
                    rec.url(), "register-entry", secret="bench", timeout=10))
                assert created.status_code == 201, created.text
            for _ in range(600):  # every handshake done before measuring
                if collector.handshakes >= args.subscribers:
                    break
                await asyncio.sleep(0.05)
            latency = await latency_phase(http, collector, args.subscribers, args.rate,
                                          args.seconds)
            throughput = await throughput_phase(http, collector, args.subscribers, args.burst)
    finally:
        server.terminate()
        server.wait(timeout=30)
        for rec in receivers:
            await rec.stop()
    return {"subscribers": args.subscribers, "database": url.split(":", 1)[0],
            "latency": latency, "throughput": throughput}


def report(result: dict[str, Any]) -> str:
    lat, thr = result["latency"], result["throughput"]
    return "\n".join([
        f"# Subscription delivery, {result['subscribers']} subscribers ({result['database']})",
        "",
        f"Latency phase: {lat['writes']} writes, {lat['events']}/{lat['expected_events']} "
        f"events: change-to-receipt p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, "
        f"max {lat['max_ms']} ms.",
        f"Throughput phase: {thr['writes']} writes in {thr['write_seconds']} s, "
        f"{thr['events']}/{thr['expected_events']} events received in "
        f"{thr['seconds_to_last_receipt']} s: {thr['events_per_s']} events/s, "
        f"{thr['posts_per_s']} POSTs/s ({thr['events_per_post']} events per POST).",
        ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="writes/s in the latency phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--database-url")
    parser.add_argument("--concurrency", type=int, help="EOLC_DELIVERY_CONCURRENCY")
    args = parser.parse_args(argv)
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
