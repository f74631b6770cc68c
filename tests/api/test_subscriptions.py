"""Subscriptions through the API with a real HTTP receiver on 127.0.0.1, on both engines."""

from __future__ import annotations

import asyncio
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


async def active_subscription(client: httpx.AsyncClient, receiver: Receiver,
                              **kwargs: Any) -> str:
    sub_id = await subscribe(client, subscription(receiver.url(f"/{len(receiver.received)}"),
                                                  **kwargs))
    await wait_status(client, sub_id, "active")
    return sub_id


def for_sub(items: list[Any], sub_id: str) -> list[Any]:
    return [r for r in items
            if params_of(r.bundle)["subscription"]["valueReference"]["reference"]
            == f"http://test/Subscription/{sub_id}"]


async def test_each_content_level_has_the_ig_shape(client: httpx.AsyncClient,
                                                    receiver: Receiver) -> None:
    subs = {c: await active_subscription(client, receiver, content=c)
            for c in ("empty", "id-only", "full-resource")}
    flag = (await client.post("/Flag", json=make_register_flag())).json()
    await receiver.wait_for(lambda r: len(notifications(r)) >= 3)
    by_content = {c: notifications(for_sub(receiver.received, s))[0] for c, s in subs.items()}

    empty = by_content["empty"]
    assert len(empty["entry"]) == 1
    assert set(params_of(empty)["notification-event"][0]) == {"event-number", "timestamp"}
    status_entry = empty["entry"][0]
    assert status_entry["request"] == {"method": "GET",
                                       "url": f"http://test/Subscription/{subs['empty']}/$status"}
    assert status_entry["response"] == {"status": "200"}
    assert status_entry["fullUrl"] == f"urn:uuid:{status_entry['resource']['id']}"

    id_only = by_content["id-only"]
    event = params_of(id_only)["notification-event"][0]
    focus = f"http://test/Flag/{flag['id']}"
    assert event["focus"]["valueReference"] == {"reference": focus}
    assert id_only["entry"][1] == {"fullUrl": focus, "request": {"method": "POST", "url": "Flag"},
                                   "response": {"status": "201"}}

    full = by_content["full-resource"]
    assert full["entry"][1]["resource"] == flag
    for bundle in by_content.values():
        assert bundle["type"] == "history"
        assert bundle["meta"]["profile"] == [
            "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
            "backport-subscription-notification-r4"]
        assert params_of(bundle)["topic"]["valueCanonical"].endswith("/register-entry")


async def test_update_and_delete_events_name_their_interaction(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    await active_subscription(client, receiver, content="full-resource")
    flag = (await client.post("/Flag", json=make_register_flag())).json()
    flag["status"] = "inactive"
    assert (await client.put(f"/Flag/{flag['id']}", json=flag)).status_code == 200
    assert (await client.delete(f"/Flag/{flag['id']}")).status_code == 204
    await receiver.wait_for(lambda r: len(all_event_numbers(r)) >= 3)
    entries = [e for b in notifications(receiver.received) for e in b["entry"][1:]]
    assert [e["request"]["method"] for e in entries] == ["POST", "PUT", "DELETE"]
    assert [e["response"]["status"] for e in entries] == ["201", "200", "204"]
    assert entries[1]["resource"]["status"] == "inactive"
    assert "resource" not in entries[2]
    assert all_event_numbers(receiver.received) == [1, 2, 3]


async def test_a_rolled_back_write_has_no_event_and_numbers_stay_dense(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    sub_id = await active_subscription(client, receiver)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": make_register_flag(), "request": {"method": "POST", "url": "Flag"}},
        {"resource": {**make_register_flag(), "id": "nope"},
         "request": {"method": "PUT", "url": "Flag/nope", "ifMatch": 'W/"7"'}},
    ]}
    response = await client.post("/", json=bundle)
    assert response.status_code >= 400
    await client.post("/Flag", json=make_register_flag())
    await receiver.wait_for(lambda r: len(notifications(r)) >= 1)
    await asyncio.sleep(0.3)
    assert all_event_numbers(receiver.received) == [1]
    status = (await client.get(f"/Subscription/{sub_id}/$status")).json()
    assert params_of(status)["events-since-subscription-start"]["valueString"] == "1"


async def test_ordering_under_concurrent_writes(client: httpx.AsyncClient,
                                                receiver: Receiver) -> None:
    await active_subscription(client, receiver, max_count=7)
    writes = [client.post("/Flag", json=make_register_flag()) for _ in range(40)]
    created = [r.json()["id"] for r in await asyncio.gather(*writes)]
    await receiver.wait_for(lambda r: len(all_event_numbers(r)) >= 40, timeout=20)
    await asyncio.sleep(0.2)
    numbers = all_event_numbers(receiver.received)
    assert numbers == list(range(1, 41))
    assert all(len(event_numbers(b)) <= 7 for b in notifications(receiver.received))
    focus = [e["fullUrl"].rsplit("/", 1)[1] for b in notifications(receiver.received)
             for e in b["entry"][1:]]
    assert sorted(focus) == sorted(created)


async def test_receiver_failing_turns_error_then_recovers_with_ordered_batches(
        client: httpx.AsyncClient, receiver: Receiver) -> None:
    sub_id = await active_subscription(client, receiver, max_count=5)
    receiver.status = 503
    for _ in range(12):
        await client.post("/Flag", json=make_register_flag())
    errored = await wait_status(client, sub_id, "error")
    assert "HTTP 503" in errored["error"]
    status = (await client.get(f"/Subscription/{sub_id}/$status")).json()
    params = params_of(status)
    assert params["status"]["valueCode"] == "error"
    assert "503" in params["error"]["valueCodeableConcept"]["text"]
    assert params["events-since-subscription-start"]["valueString"] == "12"

    receiver.status = 200
    await receiver.wait_for(lambda r: len(all_event_numbers(r)) >= 12, timeout=10)
    await wait_status(client, sub_id, "active")
    batches = [event_numbers(b) for b in notifications(receiver.received)]
    assert batches == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12]]
    history = (await client.get(f"/Subscription/{sub_id}/_history")).json()
    statuses = [e["resource"]["status"] for e in reversed(history["entry"])]
    assert statuses == ["requested", "active", "error", "active"]


async def test_receiver_down_then_back_on_the_same_port(client: httpx.AsyncClient,
                                                        receiver: Receiver) -> None:
    sub_id = await active_subscription(client, receiver)
    await receiver.stop()
    for _ in range(4):
        await client.post("/Flag", json=make_register_flag())
    await wait_status(client, sub_id, "error")
    await receiver.start()
    await receiver.wait_for(lambda r: len(all_event_numbers(r)) >= 4, timeout=10)
    assert all_event_numbers(receiver.received) == [1, 2, 3, 4]
    await wait_status(client, sub_id, "active")


async def test_heartbeat_when_nothing_else_was_sent(client: httpx.AsyncClient,
                                                    receiver: Receiver) -> None:
    sub_id = await active_subscription(client, receiver, heartbeat=1)
    await receiver.wait_for(lambda r: "heartbeat" in kinds(r), timeout=5)
    beat = next(r for r in receiver.received if kinds([r]) == ["heartbeat"])
    params = params_of(beat.bundle)
    assert params["status"]["valueCode"] == "active"
    assert params["events-since-subscription-start"]["valueString"] == "0"
    assert len(beat.bundle["entry"]) == 1
    assert beat.signature_ok is True
    assert sub_id in params["subscription"]["valueReference"]["reference"]


async def test_channel_headers_are_sent(client: httpx.AsyncClient, receiver: Receiver) -> None:
    await active_subscription(client, receiver, headers=("Authorization: Bearer abc",))
    assert receiver.received[0].headers["authorization"] == "Bearer abc"
    assert receiver.received[0].headers["content-type"] == "application/fhir+json"


async def test_redirects_are_not_followed(client: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.status = 307
    receiver.extra_headers["Location"] = "http://other.example.org/hook"
    sub_id = await subscribe(client, subscription(receiver.url()))
    errored = await wait_status(client, sub_id, "error")
    assert "redirects are not followed" in errored["error"]
    assert receiver.count >= 1


async def test_off_and_deleted_subscriptions_get_nothing(client: httpx.AsyncClient,
                                                         receiver: Receiver) -> None:
    sub_id = await active_subscription(client, receiver)
    current = (await client.get(f"/Subscription/{sub_id}")).json()
    current["status"] = "off"
    assert (await client.put(f"/Subscription/{sub_id}", json=current)).status_code == 200
    await client.post("/Flag", json=make_register_flag())
    assert (await client.delete(f"/Subscription/{sub_id}")).status_code == 204
    assert (await client.get(f"/Subscription/{sub_id}/$status")).status_code == 404
    await client.post("/Flag", json=make_register_flag())
    await asyncio.sleep(0.4)
    assert notifications(receiver.received) == []


async def test_status_of_all_subscriptions(client: httpx.AsyncClient, receiver: Receiver) -> None:
    first = await active_subscription(client, receiver)
    second = await active_subscription(client, receiver, topic="cpr-decision")
    everything = (await client.get("/Subscription/$status")).json()
    assert everything["type"] == "searchset"
    refs = {params_of(e["resource"])["subscription"]["valueReference"]["reference"]
            for e in everything["entry"]}
    assert refs == {f"http://test/Subscription/{first}", f"http://test/Subscription/{second}"}
    one = (await client.get("/Subscription/$status", params={"id": second})).json()
    assert one["total"] == 1


async def test_events_replay_ranges(client: httpx.AsyncClient, receiver: Receiver) -> None:
    sub_id = await active_subscription(client, receiver)
    for _ in range(5):
        await client.post("/Flag", json=make_register_flag())
    replay = (await client.get(f"/Subscription/{sub_id}/$events",
                               params={"eventsSinceNumber": 2, "eventsUntilNumber": 4,
                                       "content": "empty"})).json()
    assert event_numbers(replay) == [2, 3, 4]
    assert len(replay["entry"]) == 1
    assert params_of(replay)["events-since-subscription-start"]["valueString"] == "5"
    bad = await client.get(f"/Subscription/{sub_id}/$events", params={"content": "all"})
    assert bad.status_code == 400
    assert (await client.get("/Subscription/nope/$events")).status_code == 404


async def test_capability_statement_advertises_the_topics(client: httpx.AsyncClient) -> None:
    statement = (await client.get("/metadata")).json()
    entry = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription")
    topics = sorted(e["valueCanonical"] for e in entry["extension"] if e["url"].endswith(
        "capabilitystatement-subscriptiontopic-canonical"))
    assert topics == [f"https://eolc.example.org/fhir/SubscriptionTopic/{n}" for n in (
        "advance-care-plan", "care-episode", "cpr-decision", "death-recorded", "patient-wishes",
        "register-entry")]
    assert {o["name"] for o in entry["operation"]} >= {"status", "events"}
