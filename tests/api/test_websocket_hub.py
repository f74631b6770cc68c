"""The websocket hub on both engines: events written through another app instance on the same
database (another process, as far as the hub knows) reach a bound socket in order, in
Bundles of at most maxCount, with the rest-hook numbers; an unbound socket gets nothing.
Driven by Starlette's TestClient, which speaks websocket to the ASGI app."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.services.subscriptions.live import hub_of
from eolc_fhir.storage.database import Database
from tests.api.test_subscription_websocket import params, ws_subscription
from tests.builders import make_register_flag
from tests.unit.subscriptions.support import event_numbers, params_of


def _settings(url: str, **extra: Any) -> Settings:
    return Settings(database_url=url, insecure_dev=True, base_url="http://test",
                    dispatcher_poll_seconds=5, websocket_probe_seconds=0.05, **extra)


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    """The app under uvicorn on a free loopback port, in this event loop: base URL, app."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", ws="auto"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def asgi(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://test") as http:
            yield http


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(5):
        value: dict[str, Any] = orjson.loads(await ws.recv())
        return value


async def test_events_from_another_instance_reach_the_socket(migrated_url: str) -> None:
    async with served(_settings(migrated_url)) as (base, app), \
            asgi(_settings(migrated_url, run_dispatcher=False)) as writer, \
            httpx.AsyncClient(base_url=base) as http:
        sub = (await http.post("/Subscription", json=ws_subscription(max_count=2))).json()
        found = params((await http.get(
            f"/Subscription/{sub['id']}/$get-ws-binding-token")).json())
        async with connect(base.replace("http", "ws") + "/ws") as ws:
            await ws.send("hello")  # not a bind: told how, nothing else
            assert (await receive(ws))["resourceType"] == "OperationOutcome"
            await ws.send(f"bind-with-token {found['token'][0]}")
            handshake = await receive(ws)
            assert params_of(handshake)["type"]["valueCode"] == "handshake"
            assert params_of(handshake)["events-since-subscription-start"]["valueString"] == "0"
            started = time.monotonic()
            for _ in range(5):
                assert (await writer.post("/Flag", json=make_register_flag())).status_code == 201
            numbers: list[int] = []
            while len(numbers) < 5:
                bundle = await receive(ws)
                assert params_of(bundle)["type"]["valueCode"] == "event-notification"
                assert 1 <= len(event_numbers(bundle)) <= 2  # maxCount
                numbers.extend(event_numbers(bundle))
            assert numbers == [1, 2, 3, 4, 5]
            assert time.monotonic() - started < 4  # woken, not the 5 s backstop poll

            # Bound again with a new token on the same socket: a new handshake, then only
            # what is new (the cursor is kept).
            again = params((await http.get(
                f"/Subscription/{sub['id']}/$get-ws-binding-token")).json())["token"][0]
            await ws.send(f"bind-with-token {again}")
            assert params_of(await receive(ws))["type"]["valueCode"] == "handshake"
            assert (await writer.post("/Flag", json=make_register_flag())).status_code == 201
            assert event_numbers(await receive(ws)) == [6]

            # Its binding expires: told why, closed 1008.
            for held in hub_of(app.state.ctx).sockets:
                for bound in held.bound.values():
                    bound.expires_at = 0
            with pytest.raises(ConnectionClosed) as closed:
                await receive(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert "expired" in closed.value.rcvd.reason
        # The same events stay in the outbox for $events (a reconnecting client catches up).
        replay = (await http.get(f"/Subscription/{sub['id']}/$events")).json()
        assert [int(p["part"][0]["valueString"]) for p in
                replay["entry"][0]["resource"]["parameter"]
                if p["name"] == "notification-event"] == [1, 2, 3, 4, 5, 6]
    # Nothing is ever acknowledged for a websocket Subscription: its events go by age alone.
    db = Database(migrated_url)
    try:
        async with db.unit_of_work() as uow:
            assert await uow.subscriptions.purge_delivered(now_us() + 1) == 6
    finally:
        await db.close()
