"""A small webhook receiver on asyncio streams (``eolc-fhir listen``, tests, benchmarks).

HTTP/1.1 with keep-alive, Content-Length bodies only: enough for our own
dispatcher and any ordinary client. It records each notification, checks its
``X-Eolc-Signature`` when given the secret, and answers with ``status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from eolc_fhir.subscriptions.endpoints import SIGNATURE_HEADER, verify_signature

__all__ = ["Receiver", "Received", "summary"]

_MAX_HEADER = 64 * 1024
_REASONS = {200: "OK", 204: "No Content", 301: "Moved Permanently", 302: "Found",
            307: "Temporary Redirect", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at_ns: int
    signature_ok: bool | None
    method: str = "POST"

    @property
    def bundle(self) -> dict[str, Any]:
        return dict(orjson.loads(self.body))


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    secret: str | None = None
    status: int = 200
    extra_headers: dict[str, str] = field(default_factory=dict)
    keep: bool = True  # False: count only (benchmarks)
    on_receive: Callable[[Received], None] | None = None
    tls: ssl.SSLContext | None = None  # serve https with this context
    received: list[Received] = field(default_factory=list)
    count: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/hook") -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self.host}:{self.port}{path}"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  reuse_address=True, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Stop listening and drop open connections (a receiver that went down)."""
        if self._server is not None:
            self._server.close()
            # Python 3.12's wait_closed waits for every connection: close keep-alive ones,
            # including any accepted while we wait.
            for _ in range(50):
                for writer in list(self._writers):
                    writer.close()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.1):
                        await asyncio.shield(self._server.wait_closed())
                    break
            self._server = None

    async def wait_for(self, predicate: Callable[[list[Received]], bool],
                       timeout: float = 10.0) -> list[Received]:
        """Wait until ``predicate(received)`` holds; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate(self.received):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"receiver: condition not met in {timeout}s; got "
                                     f"{[summary(r) for r in self.received]}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, 0.5)):
                    await self._arrived.wait()
        return self.received

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_HEADER:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self._record(path, headers, body, method)
        status = self.status
        extra = "".join(f"{k}: {v}\r\n" for k, v in self.extra_headers.items())
        writer.write(f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n"
                     f"Content-Length: 0\r\n{extra}\r\n".encode("latin-1"))
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    def _record(self, path: str, headers: dict[str, str], body: bytes,
                method: str = "POST") -> None:
        sig = None
        if self.secret is not None:
            sig = verify_signature(self.secret, body, headers.get(SIGNATURE_HEADER.lower()))
        item = Received(path, headers, body, time.time_ns(), sig, method)
        self.count += 1
        if self.keep and self.status < 300:
            self.received.append(item)
        if self.on_receive is not None:
            self.on_receive(item)
        self._arrived.set()


def summary(item: Received) -> str:
    """One line: type, subscription, event numbers and whether the signature held."""
    try:
        bundle = item.bundle
        params = {p["name"]: p for p in bundle["entry"][0]["resource"]["parameter"]}
        numbers = [part["valueString"] for p in bundle["entry"][0]["resource"]["parameter"]
                   if p["name"] == "notification-event" for part in p["part"]
                   if part["name"] == "event-number"]
        kind = params["type"]["valueCode"]
        sub = params["subscription"]["valueReference"]["reference"]
    except (ValueError, KeyError, IndexError, TypeError):
        # e.g. a classic R4 rest-hook: an empty ping, or PUT [base]/[type]/[id] of a resource
        return f"{item.method} {item.path}: not a notification Bundle ({len(item.body)} bytes)"
    sig = {None: "unchecked", True: "signature ok", False: "SIGNATURE BAD"}[item.signature_ok]
    events = f" events {','.join(numbers)}" if numbers else ""
    return f"{kind} {sub}{events} ({sig})"
