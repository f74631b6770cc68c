"""Lean webhook receivers for the subscription benchmark, in their own process.

    python -m bench.subscription_receivers --count 100 [--tls-cert C --tls-key K]

Starts ``count`` HTTP/1.1 receivers on loopback (asyncio Protocols on uvloop when
installed: no per-request task, no stream objects), prints their ports as one JSON
line, then answers commands on stdin, one per line, each with one JSON line:

- ``stats``: ``{"events", "posts", "handshakes", "last_ns"}`` so far;
- ``latencies``: change-to-receipt latencies (ms) of the events since the last call;
- ``quit``.

Run apart from the benchmark driver so that 100 receivers parsing notifications do
not share an event loop with the writers and the bookkeeping being measured: the
harness must not be what is slow. Each event counts once (first arrival) per
subscription and event number; its latency is arrival time (``time.time_ns``) minus
the event's timestamp (the change's lastUpdated), on the same machine's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
import time
from typing import Any

import orjson

from eolc_fhir.fhir.instant import from_instant

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class Tally:
    def __init__(self) -> None:
        self.events = 0
        self.posts = 0
        self.handshakes = 0
        self.last_ns = 0
        self.latencies_ms: list[float] = []
        self.seen: set[tuple[str, int]] = set()

    def record(self, body: bytes, at_ns: int) -> None:
        self.posts += 1
        self.last_ns = at_ns
        try:
            params = orjson.loads(body)["entry"][0]["resource"]["parameter"]
        except (ValueError, LookupError, TypeError):  # not a notification: counted as a POST
            return
        sub = ""
        for p in params:
            name = p["name"]
            if name == "subscription":
                sub = p["valueReference"]["reference"]
            elif name == "type" and p.get("valueCode") == "handshake":
                self.handshakes += 1
            elif name == "notification-event":
                parts = {q["name"]: q for q in p["part"]}
                key = (sub, int(parts["event-number"]["valueString"]))
                if key in self.seen:
                    continue
                self.seen.add(key)
                self.events += 1
                stamp_us = from_instant(parts["timestamp"]["valueInstant"])
                self.latencies_ms.append((at_ns / 1000 - stamp_us) / 1000)


class HookProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies, always 200 with an empty body."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        at_ns = time.time_ns()
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            length = 0
            for line in self.buffer[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            assert self.transport is not None
            self.transport.write(_OK)
            self.tally.record(body, at_ns)


async def serve(count: int, tls: ssl.SSLContext | None = None) -> None:
    loop = asyncio.get_running_loop()
    tally = Tally()
    servers = [await loop.create_server(lambda: HookProtocol(tally), "127.0.0.1", 0, ssl=tls)
               for _ in range(count)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(orjson.dumps(ports).decode(), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).strip():
        answer: Any
        if line == b"stats":
            answer = {"events": tally.events, "posts": tally.posts,
                      "handshakes": tally.handshakes, "last_ns": tally.last_ns}
        elif line == b"latencies":
            answer, tally.latencies_ms = tally.latencies_ms, []
        else:
            break
        sys.stdout.write(orjson.dumps(answer).decode() + "\n")
        sys.stdout.flush()
    for s in servers:
        s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--tls-cert", help="serve https with this certificate (PEM) ...")
    parser.add_argument("--tls-key", help="... and its private key (PEM)")
    args = parser.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.count, tls))
    else:
        uvloop.run(serve(args.count, tls))


if __name__ == "__main__":
    main()
