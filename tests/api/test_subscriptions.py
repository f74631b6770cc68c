"""Subscriptions through the API with a real HTTP receiver on 127.0.0.1, on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from eolc_fhir.config import Settings
from eolc_fhir.subscriptions.receiver import Receiver
from tests.builders import make_register_flag
from tests.unit.subscriptions.support import (
    all_event_numbers,
    event_numbers,
    kinds,
    notifications,
    params_of,
    subscription,
)


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return Settings(database_url=migrated_url, insecure_dev=True, base_url="http://test",
                    delivery_retry_base_seconds=0.05, delivery_retry_max_seconds=0.2,
                    delivery_error_after=3, dispatcher_poll_seconds=0.2,
                    delivery_lease_seconds=3)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = await Receiver(secret="s3cret").start()
    try:
        yield rec
    finally:
        await rec.stop()


async def subscribe(client: httpx.AsyncClient, resource: dict[str, Any]) -> str:
    response = await client.post("/Subscription", json=resource)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == resource["status"]
    return str(response.json()["id"])


async def wait_status(client: httpx.AsyncClient, sub_id: str, status: str,
                      timeout: float = 10.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await client.get(f"/Subscription/{sub_id}")).json()
        if body["status"] == status:
            return dict(body)
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"Subscription/{sub_id} stayed {body['status']}")
        await asyncio.sleep(0.05)


async def test_handshake_then_event_then_status_and_events(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    sub_id = await subscribe(client, subscription(receiver.url()))
    await receiver.wait_for(lambda r: len(r) >= 1)
    first = receiver.received[0]
    assert kinds([first]) == ["handshake"]
    assert first.signature_ok is True
    await wait_status(client, sub_id, "active")

    flag = (await client.post("/Flag", json=make_register_flag())).json()
    await receiver.wait_for(lambda r: len(notifications(r)) >= 1)
    bundle = notifications(receiver.received)[0]
    assert event_numbers(bundle) == [1]
    assert bundle["type"] == "history"
    assert bundle["entry"][1]["fullUrl"] == f"http://test/Flag/{flag['id']}"
    assert "resource" not in bundle["entry"][1]

    status = (await client.get(f"/Subscription/{sub_id}/$status")).json()
    params = params_of(status["entry"][0]["resource"])
    assert params["events-since-subscription-start"]["valueString"] == "1"
    assert params["status"]["valueCode"] == "active"

    replay = (await client.get(f"/Subscription/{sub_id}/$events",
                               params={"content": "full-resource"})).json()
    assert params_of(replay)["type"]["valueCode"] == "query-event"
    assert replay["entry"][1]["resource"]["id"] == flag["id"]
    assert all_event_numbers(receiver.received) == [1]
