"""The websocket channel over a real uvicorn (auth on) and a real websocket client: bind,
handshake, a REST change arriving as an event-notification, heartbeats, bad tokens closed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from eolc_fhir.security.client_side import read_key_file, request_token
from eolc_fhir.security.roles import default_scopes
from tests.api.test_subscription_websocket import params, ws_subscription
from tests.builders import make_register_flag
from tests.e2e.conftest import ServerProcess, start_server
from tests.unit.subscriptions.support import event_numbers, params_of

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]


@pytest.fixture
def secure_server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(tmp_path / "keys"),
           "EOLC_RATE_LIMIT_PER_MINUTE": "0"}
    proc = start_server(migrated_url, tmp_path, env=env)
    try:
        yield proc
    finally:
        proc.stop()


async def next_json(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(5):
        value: dict[str, Any] = orjson.loads(await ws.recv())
        return value


def kind_of(bundle: dict[str, Any]) -> str:
    return str(params_of(bundle)["type"]["valueCode"])


async def test_bind_handshake_event_heartbeat_and_refusals(
        secure_server: ServerProcess, tmp_path: Path) -> None:
    key = read_key_file(tmp_path / "keys" / "demo-gp.jwk.json")
    answer = await asyncio.to_thread(request_token, secure_server.url, "demo-gp", key,
                                     default_scopes("gp"))
    headers = {"Authorization": f"Bearer {answer['access_token']}",
               "Content-Type": "application/fhir+json"}
    async with httpx.AsyncClient(base_url=secure_server.url, headers=headers) as http:
        sub = (await http.post("/Subscription", json=ws_subscription(heartbeat=1))).json()
        found = params((await http.get(f"/Subscription/{sub['id']}/$get-ws-binding-token")).json())
        url, token = found["websocket-url"][0], found["token"][0]
        assert url == secure_server.url.replace("http://", "ws://") + "/ws"
        async with connect(url) as ws:
            await ws.send(f"bind-with-token {token}")
            handshake = await next_json(ws)
            assert kind_of(handshake) == "handshake"
            assert params_of(handshake)["subscription"]["valueReference"]["reference"].endswith(
                f"Subscription/{sub['id']}")
            flag = (await http.post("/Flag", json=make_register_flag())).json()
            event = await next_json(ws)
            while kind_of(event) == "heartbeat":
                event = await next_json(ws)
            assert kind_of(event) == "event-notification"
            assert event_numbers(event) == [1]
            assert event["entry"][1]["fullUrl"].endswith(f"/Flag/{flag['id']}")
            assert kind_of(await next_json(ws)) == "heartbeat"  # heartbeatPeriod 1 s

            # The token was used up: a second socket presenting it is closed, with a reason.
            for bad in (token, "forged"):
                async with connect(url) as other:
                    await other.send(f"bind-with-token {bad}")
                    outcome = await next_json(other)
                    assert outcome["resourceType"] == "OperationOutcome"
                    with pytest.raises(ConnectionClosed) as closed:
                        await next_json(other)
                    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
