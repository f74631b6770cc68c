"""The dispatcher's batched bookkeeping keeps every subscription's stream whole and in order.

Many subscriptions and concurrent writes make the dispatcher lease several
subscriptions per transaction and commit many acknowledgements together; each
receiver must still see 1..N once each, in order, in Bundles of at most maxCount.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

import httpx
import pytest

from eolc_fhir.config import Settings
from eolc_fhir.subscriptions.receiver import Receiver
from tests.builders import make_register_flag
from tests.unit.subscriptions.support import event_numbers, notifications, params_of, subscription

SUBSCRIBERS = 12
WRITES = 30


@pytest.fixture
def settings(migrated_url: str) -> Settings:
    return Settings(database_url=migrated_url, insecure_dev=True, base_url="http://test",
                    dispatcher_poll_seconds=0.2, delivery_lease_seconds=3)


def by_subscription(receiver: Receiver) -> dict[str, list[list[int]]]:
    streams: dict[str, list[list[int]]] = defaultdict(list)
    for bundle in notifications(receiver.received):
        sub = params_of(bundle)["subscription"]["valueReference"]["reference"]
        streams[sub.rsplit("/", 1)[1]].append(event_numbers(bundle))
    return streams


async def test_many_subscriptions_get_every_event_once_in_order(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    subs = []
    for i in range(SUBSCRIBERS):
        response = await client.post("/Subscription", json=subscription(
            receiver.url(f"/{i}"), max_count=3))
        assert response.status_code == 201
        subs.append(response.json()["id"])
    await receiver.wait_for(lambda r: len(r) >= SUBSCRIBERS)  # the handshakes

    async def writer(count: int) -> None:
        for _ in range(count):
            assert (await client.post("/Flag", json=make_register_flag())).status_code == 201

    await asyncio.gather(*(writer(WRITES // 5) for _ in range(5)))
    await receiver.wait_for(lambda r: sum(len(event_numbers(b)) for b in notifications(r))
                            >= SUBSCRIBERS * WRITES, timeout=30)
    await asyncio.sleep(0.3)  # anything delivered twice would show up by now
    streams = by_subscription(receiver)
    assert sorted(streams) == sorted(subs)
    for sub_id in subs:
        bundles = streams[sub_id]
        assert [n for b in bundles for n in b] == list(range(1, WRITES + 1)), sub_id
        assert all(1 <= len(b) <= 3 for b in bundles)
    dispatcher = client.app.state.ctx.dispatcher  # type: ignore[attr-defined]
    acks = dispatcher.stats.posts - SUBSCRIBERS  # the handshakes are acknowledged alone
    assert dispatcher._acks.groups < acks  # acknowledgements did share transactions
