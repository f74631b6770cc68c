"""The websocket channel's hub: bound sockets get their Subscriptions' events as they commit.

One hub per process (on the SubscriptionEngine). A socket binds with a token
(ws_tokens.redeem) and gets a ``handshake`` per Subscription; from then on the
hub reads the outbox after every wake-up — a local commit that appended events,
a PostgreSQL NOTIFY from another process, a changed SQLite change counter (probed
every ``EOLC_WEBSOCKET_PROBE_SECONDS`` while sockets are bound), or the
dispatcher's poll interval as a backstop — and sends each binding the events
after its cursor as ``event-notification`` Bundles (up to ``maxCount`` events
each), built by the same notification builder as rest-hook deliveries, so the
numbers and content are the same. ``heartbeat`` Bundles follow the
Subscription's heartbeat period. Delivery is best-effort and live: nothing is
acknowledged (the rest-hook outbox state is never touched); a socket that
reconnects catches up with ``$events``. A socket whose queue overflows is
closed (1013) rather than allowed to hold the hub up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from eolc_fhir.fhir.instant import now_us
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions.outbox import SubscriptionEngine, base_url
from eolc_fhir.services.subscriptions.status import notified_events
from eolc_fhir.storage.subscription_repo import LIVE, StateRow
from eolc_fhir.subscriptions.notification import NotifiedEvent, notification_bundle
from eolc_fhir.subscriptions.spec import SubscriptionSpec

__all__ = ["LiveHub", "LiveSocket", "hub_of", "stop_hub", "CLOSE_POLICY", "CLOSE_OVERLOAD",
           "CLOSE_NORMAL"]

log = logging.getLogger("eolc_fhir.subscriptions")
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_OVERLOAD = 1000, 1008, 1013
_QUEUE_LIMIT = 1000  # messages waiting for one socket before it is closed as too slow
_READ_LIMIT = 20  # Bundles' worth of events read per subscription per round
BIND_WITHIN = 30.0  # seconds a socket may stay open without ever binding


@dataclass
class _Bound:
    sub_id: str
    cursor: int  # the last event number sent on this socket
    expires_at: float  # the binding token's expiration
    last_sent: float = field(default_factory=time.monotonic)


class LiveSocket:
    """One connected websocket: its bindings and the messages waiting to be sent.
    ``close`` (code, reason) is set once the hub wants it closed after the queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.bound: dict[str, _Bound] = {}
        self.close: tuple[int, str] | None = None
        self.principal: Any = None
        self.opened = time.monotonic()
        self.ever_bound = False

    def send(self, text: str) -> bool:
        if self.close is not None:
            return False
        if self.queue.qsize() >= _QUEUE_LIMIT:
            self.end(CLOSE_OVERLOAD, "too far behind: reconnect and catch up with $events")
            return False
        self.queue.put_nowait(text)
        return True

    def end(self, code: int, reason: str) -> None:
        if self.close is None:
            self.close = (code, reason)
            self.bound.clear()
            self.queue.put_nowait(None)


class LiveHub:
    def __init__(self, ctx: ServerContext) -> None:
        self.ctx = ctx
        self.sockets: set[LiveSocket] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], Awaitable[None]] | None = None
        self._token: Any = None
        self._last_rows: dict[str, StateRow] = {}  # each bound Subscription's last state read
        self.dev_tokens: dict[str, Any] = {}  # --insecure-dev binding tokens (ws_tokens.py)
        self.rounds = 0

    @property
    def engine(self) -> SubscriptionEngine:
        engine: SubscriptionEngine = self.ctx.subscriptions
        return engine

    def wake(self) -> None:
        if self.sockets:
            self._wake.set()

    async def connect(self) -> LiveSocket:
        socket = LiveSocket()
        self.sockets.add(socket)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="eolc-websocket-hub")
            if not self.ctx.db.embedded:
                try:
                    self._unlisten = await self.ctx.db.listen_for_events(self.wake)
                except Exception:  # the poll still delivers, later
                    log.exception("LISTEN failed; websockets fall back to polling")
        return socket

    def disconnect(self, socket: LiveSocket) -> None:
        socket.end(CLOSE_NORMAL, "closed")
        self.sockets.discard(socket)

    async def stop(self) -> None:
        for socket in list(self.sockets):
            socket.end(1001, "the server is stopping")
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        unlisten, self._unlisten = self._unlisten, None
        if unlisten is not None:
            await unlisten()

    def bind(self, socket: LiveSocket, rows: list[StateRow], expires_at: float,
             principal: Any) -> None:
        """Bind (or re-bind, keeping the cursor) and send each Subscription's handshake."""
        socket.principal, socket.ever_bound = principal, True
        for row in rows:
            kept = socket.bound.get(row.sub_id)
            cursor = kept.cursor if kept is not None else row.last_event_number
            socket.bound[row.sub_id] = _Bound(row.sub_id, cursor, expires_at)
            self._send(socket, row, "handshake", [], row.last_event_number)
        self.wake()

    # --- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        probe = self.ctx.settings.websocket_probe_seconds
        backstop = time.monotonic() + self.ctx.settings.dispatcher_poll_seconds
        while True:
            self._wake.clear()
            try:
                if self.sockets:
                    self._expire()
                    if self._changed() or time.monotonic() >= backstop:
                        backstop = time.monotonic() + self.ctx.settings.dispatcher_poll_seconds
                        await self._deliver()
                    self._heartbeats()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("websocket hub round failed; retrying")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(probe if self.sockets else None):
                    await self._wake.wait()
                    backstop = 0.0  # woken: read the outbox now

    def _changed(self) -> bool:
        """Did any process commit a resource write since the last round? Without a probe
        (PostgreSQL before its read pool listens, in-memory SQLite) the wake-ups and the
        backstop poll decide."""
        token = self.ctx.db.change_token()
        if token is None:
            return False
        if token != self._token:
            self._token = token
            return True
        return False

    def _expire(self) -> None:
        now, idle_since = time.time(), time.monotonic() - BIND_WITHIN
        for socket in list(self.sockets):
            if not socket.ever_bound and socket.opened < idle_since:
                socket.end(CLOSE_POLICY, f"no bind-with-token within {BIND_WITHIN:g} s")
            gone = [b for b in socket.bound.values() if b.expires_at <= now]
            for b in gone:
                del socket.bound[b.sub_id]
            if gone and not socket.bound:
                socket.end(CLOSE_POLICY, "the binding token expired: bind again with a new one")

    def _bindings(self) -> dict[str, list[tuple[LiveSocket, _Bound]]]:
        found: dict[str, list[tuple[LiveSocket, _Bound]]] = {}
        for socket in self.sockets:
            for b in socket.bound.values():
                found.setdefault(b.sub_id, []).append((socket, b))
        return found

    async def _deliver(self) -> None:
        """Send every binding what committed after its cursor; again while reads are full."""
        self.rounds += 1
        more = True
        while more:
            bindings = self._bindings()
            self._last_rows = {k: v for k, v in self._last_rows.items() if k in bindings}
            if not bindings:
                return
            rows, events = await self._read(bindings)
            more = False
            for sub_id, pairs in bindings.items():
                row = rows.get(sub_id)
                if row is not None:
                    self._last_rows[sub_id] = row
                if row is None or row.status not in LIVE:
                    self._unbind(pairs, f"Subscription/{sub_id} is no longer live")
                    continue
                spec = self.engine.spec(sub_id, row.spec)
                found = events.get(sub_id, [])
                more = more or len(found) >= spec.max_count * _READ_LIMIT
                for socket, b in pairs:
                    self._send_events(socket, b, row, spec, found)

    async def _read(self, bindings: dict[str, list[tuple[LiveSocket, _Bound]]]
                    ) -> tuple[dict[str, StateRow], dict[str, list[NotifiedEvent]]]:
        async with self.ctx.db.unit_of_work(write=False) as uow:
            repo = uow.subscriptions
            rows = {r.sub_id: r for r in await repo.list(list(bindings))}
            ranges = []
            for sub_id, pairs in bindings.items():
                row = rows.get(sub_id)
                low = min(b.cursor for _, b in pairs)
                if row is not None and row.last_event_number > low:
                    spec = self.engine.spec(sub_id, row.spec)
                    ranges.append((sub_id, low, spec.max_count * _READ_LIMIT))
            found = await repo.next_events(ranges)
            events = {sub_id: await notified_events(
                uow, found[sub_id], self.engine.spec(sub_id, rows[sub_id].spec).content)
                for sub_id, _, _ in ranges}
        return rows, events

    def _send_events(self, socket: LiveSocket, b: _Bound, row: StateRow,
                     spec: SubscriptionSpec, found: list[NotifiedEvent]) -> None:
        fresh = [e for e in found if e.number > b.cursor]
        for start in range(0, len(fresh), spec.max_count):
            chunk = fresh[start:start + spec.max_count]
            if not self._send(socket, row, "event-notification", chunk, row.last_event_number):
                return
            b.cursor = chunk[-1].number
            b.last_sent = time.monotonic()

    def _unbind(self, pairs: list[tuple[LiveSocket, _Bound]], reason: str) -> None:
        for socket, b in pairs:
            socket.bound.pop(b.sub_id, None)
            if not socket.bound:
                socket.end(CLOSE_NORMAL, reason)

    def _heartbeats(self) -> None:
        now = time.monotonic()
        for socket in list(self.sockets):
            for b in list(socket.bound.values()):
                row = self._last_rows.get(b.sub_id)
                if row is None:
                    continue
                period = self.engine.spec(b.sub_id, row.spec).heartbeat_seconds
                if period and now - b.last_sent >= period:
                    self._send(socket, row, "heartbeat", [], row.last_event_number)
                    b.last_sent = now

    def _send(self, socket: LiveSocket, row: StateRow, kind: str,
              events: list[NotifiedEvent], total: int) -> bool:
        self._last_rows[row.sub_id] = row
        spec = self.engine.spec(row.sub_id, row.spec)
        bundle = notification_bundle(
            base=base_url(self.ctx), sub_id=row.sub_id, topic=row.topic, status=row.status,
            kind=kind, events_since=total, events=events, content=spec.content,
            timestamp_us=now_us())
        return socket.send(orjson.dumps(bundle).decode())


def hub_of(ctx: ServerContext) -> LiveHub:
    """This process's hub, made on first use; the engine's wake-ups reach it."""
    engine: SubscriptionEngine = ctx.subscriptions
    if engine.live is None:
        engine.live = LiveHub(ctx)
    hub: LiveHub = engine.live
    return hub


async def stop_hub(ctx: ServerContext) -> None:
    engine: SubscriptionEngine | None = ctx.subscriptions
    if engine is not None and engine.live is not None:
        await engine.live.stop()
        engine.live = None
