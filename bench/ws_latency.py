"""Websocket channel latency: a change made through REST, until it arrives on a bound socket.

Starts `eolc-fhir serve` (authentication on, demo clients), creates a websocket
Subscription on the register-entry topic, binds a socket with
`$get-ws-binding-token` + `bind-with-token`, then makes N register-entry changes
(POST /Flag) at a steady rate and times each from just before its POST until its
event-notification arrives. With ``--cross-process`` a second server process on
the same database holds the socket (no dispatcher of its own), so every event
crosses processes through the database (SQLite: the change counter probe;
PostgreSQL: NOTIFY). Prints p50/p90/p99/max and writes bench/results/<ts>-ws-latency.md.

    python -m bench.ws_latency --changes 300 --rate 20
    python -m bench.ws_latency --cross-process
    python -m bench.ws_latency --database-url postgresql+asyncpg://...  (a migrated database)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from bench.servers import REPO, free_port
from eolc_fhir.security.client_side import read_key_file, request_token
from eolc_fhir.security.roles import default_scopes

TOPIC = "https://eolc.example.org/fhir/SubscriptionTopic/register-entry"
FLAG = {"resourceType": "Flag", "status": "active",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "526631000000108",
                             "display": "On end of life care register"}]},
        "subject": {"reference": "Patient/bench-ws"}, "period": {"start": "2026-02-03"},
        "author": {"reference": "Organization/gp-practice-1"}}


def start(url: str, port: int, keys: Path, log: Path, dispatcher: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(keys),
           "EOLC_RATE_LIMIT_PER_MINUTE": "0", "EOLC_LOG_LEVEL": "warning",
           "EOLC_TOKEN_LIFETIME": "3600", "EOLC_RUN_DISPATCHER": "1" if dispatcher else "0"}
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "eolc_fhir.cli", "serve", "--port",
                                 str(port), "--database-url", url], stdout=sink,
                                stderr=subprocess.STDOUT, env=env, cwd=REPO)


async def ready(base: str) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            try:
                if (await http.get(f"{base}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{base} did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _headers(rest: str, keys: Path, role: str) -> dict[str, str]:
    key = read_key_file(keys / f"demo-{role}.jwk.json")
    token = (await asyncio.to_thread(request_token, rest, f"demo-{role}", key,
                                     default_scopes(role)))["access_token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}


async def measure(rest: str, socket_base: str, keys: Path, changes: int,
                  rate: float) -> list[float]:
    """The coordination centre watches; a GP practice writes."""
    headers = await _headers(rest, keys, "coordination-centre")
    writer = httpx.AsyncClient(headers=await _headers(rest, keys, "gp"), timeout=30)
    sub = {"resourceType": "Subscription", "status": "requested", "reason": "bench",
           "criteria": TOPIC, "channel": {"type": "websocket",
                                          "payload": "application/fhir+json"}}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:
        sub_id = (await http.post(f"{rest}/Subscription", json=sub)).json()["id"]
        answer = (await http.get(f"{socket_base}/Subscription/{sub_id}/$get-ws-binding-token"
                                 )).json()
        found = {p["name"]: p for p in answer["parameter"]}
        arrived: dict[int, float] = {}
        async with connect(found["websocket-url"]["valueUrl"], max_size=None) as ws:
            await ws.send(f"bind-with-token {found['token']['valueString']}")
            await ws.recv()  # the handshake
            listener = asyncio.create_task(_listen(ws, arrived))
            async with writer:
                sent = await _write(writer, rest, changes, rate)
            deadline = time.monotonic() + 10
            while len(arrived) < changes and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
    missing = [n for n in sent if n not in arrived]
    if missing:
        raise RuntimeError(f"{len(missing)} events never arrived: {missing[:10]}")
    return [(arrived[n] - sent[n]) * 1000 for n in sent]


POSTS: list[float] = []  # each POST's own time to answer, ms: the floor of the latency


async def _write(http: httpx.AsyncClient, rest: str, changes: int,
                 rate: float) -> dict[int, float]:
    sent: dict[int, float] = {}
    start = time.perf_counter()
    for n in range(1, changes + 1):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        sent[n] = time.perf_counter()
        response = await http.post(f"{rest}/Flag", content=orjson.dumps(FLAG))
        POSTS.append((time.perf_counter() - sent[n]) * 1000)
        assert response.status_code == 201, response.text
    return sent


async def _listen(ws: Any, arrived: dict[int, float]) -> None:
    async for message in ws:
        now = time.perf_counter()
        bundle = orjson.loads(message)
        for p in bundle["entry"][0]["resource"]["parameter"]:
            if p["name"] == "notification-event":
                number = int(next(q["valueString"] for q in p["part"]
                                  if q["name"] == "event-number"))
                arrived.setdefault(number, now)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ws-latency-"))
    url = args.database_url or f"sqlite+aiosqlite:///{work / 'eolc.db'}"
    ports = [free_port(), free_port()]
    procs = [start(url, ports[0], work / "keys", work / "a.log", True)]
    try:
        await ready(f"http://127.0.0.1:{ports[0]}")
        if args.cross_process:
            procs.append(start(url, ports[1], work / "keys", work / "b.log", False))
            await ready(f"http://127.0.0.1:{ports[1]}")
        rest = f"http://127.0.0.1:{ports[0]}"
        socket_base = f"http://127.0.0.1:{ports[1 if args.cross_process else 0]}"
        latencies = await measure(rest, socket_base, work / "keys", args.changes, args.rate)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=20)
    return {"engine": url.split(":", 1)[0], "cross_process": args.cross_process,
            "changes": args.changes, "rate": args.rate,
            "p50": pct(latencies, 0.5), "p90": pct(latencies, 0.9),
            "p99": pct(latencies, 0.99), "max": max(latencies),
            "post_p50": pct(POSTS, 0.5), "post_p99": pct(POSTS, 0.99)}


HEAD = ("| engine | where | changes | p50 ms | p90 ms | p99 ms | max ms | the POST itself "
        "p50 / p99 ms |\n|---|---|---|---:|---:|---:|---:|---:|\n")


def report(r: dict[str, Any]) -> str:
    where = "socket on a second process" if r["cross_process"] else "one process"
    return (f"| {r['engine']} | {where} | {r['changes']} at {r['rate']:g}/s | "
            f"{r['p50']:.1f} | {r['p90']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
            f"{r['post_p50']:.1f} / {r['post_p99']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="changes per second")
    parser.add_argument("--cross-process", action="store_true")
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    line = report(result)
    print(HEAD + line)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = REPO / "bench" / "results" / f"{stamp}-ws-latency.md"
    out.write_text(f"# Websocket channel latency ({stamp})\n\n{HEAD}{line}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
