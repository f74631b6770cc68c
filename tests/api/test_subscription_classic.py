"""Classic R4 Subscriptions, R4 topics as Basic, Subscription.end and write-only secrets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from eolc_fhir.config import Settings
from eolc_fhir.services.resources.writes import store_version
from eolc_fhir.services.subscriptions.lifecycle import SYSTEM_WRITE, mask_stored_secrets
from eolc_fhir.subscriptions.receiver import Receiver
from eolc_fhir.subscriptions.secrets import MASK
from tests.api.test_subscriptions import settings, wait_status
from tests.builders import make_lab_observation, make_register_flag
from tests.data import FHIR_R4_EXAMPLES
from tests.security_support import secure_app, secure_settings
from tests.unit.subscriptions.support import SECRET_EXT, kinds, subscription

__all__ = ["secure_settings", "settings"]  # fixtures; settings: a quick dispatcher
pytestmark = pytest.mark.engines("sqlite")
CRITERIA = "Observation?code=http://loinc.org|1975-2"
XVER = "http://hl7.org/fhir/5.0/StructureDefinition/extension-SubscriptionTopic."


def classic(endpoint: str, *, payload: bool = True, criteria: str = CRITERIA,
            **extra: Any) -> dict[str, Any]:
    channel: dict[str, Any] = {"type": "rest-hook", "endpoint": endpoint,
                               "header": ["Authorization: Bearer abc-123"]}
    if payload:
        channel["payload"] = "application/fhir+json"
    return {"resourceType": "Subscription", "status": "requested", "reason": "tests",
            "criteria": criteria, "channel": channel, **extra}


def in_seconds(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_official_r4_examples_are_accepted_and_round_trip(
        client: httpx.AsyncClient) -> None:
    for name in ("Subscription-example.json", "Subscription-example-error.json"):
        raw = (FHIR_R4_EXAMPLES / name).read_bytes()
        created = await client.post("/Subscription", content=raw)
        assert created.status_code == 201, created.text
        back = (await client.get(f"/Subscription/{created.json()['id']}")).json()
        # What the server changes: its meta, the status (the examples' end is in the past:
        # stored off, never delivered, the reason in error) and the header value (write-only).
        assert (back["status"], back["error"]) == (
            "off", "switched off: Subscription.end has passed")
        assert back["channel"].pop("header") == [f"Authorization: {MASK}"]
        sent = orjson.loads(raw)
        sent["channel"].pop("header")
        for doc in (sent, back):
            for key in ("id", "meta", "status", "error"):
                doc.pop(key, None)
        assert back == sent, name


CRITERIA_ERRORS = [("Nonsense?code=1", "resource type"),
                   ("Observation?no-such-param=1", "no-such-param"),
                   ("AuditEvent?action=R", "cannot be subscribed"),
                   ("Subscription?status=active", "cannot be subscribed")]


async def test_classic_criteria_errors_name_the_criteria(client: httpx.AsyncClient) -> None:
    for criteria, words in CRITERIA_ERRORS:
        resp = await client.post("/Subscription", json=classic("http://127.0.0.1:9/x",
                                                               criteria=criteria))
        assert resp.status_code == 422, resp.text
        issue = resp.json()["issue"][0]
        assert issue["expression"] == ["Subscription.criteria"]
        assert words in issue["diagnostics"], criteria
    # A bad endpoint is found at the first contact: status error, with the reason.
    sub = (await client.post("/Subscription", json=classic("http://127.0.0.1:9/x"))).json()
    body = await wait_status(client, sub["id"], "error")
    assert body["error"]


async def test_classic_ping_and_payload_delivery(client: httpx.AsyncClient,
                                                 receiver: Receiver) -> None:
    full = (await client.post("/Subscription", json=classic(receiver.url("/base")))).json()
    ping = (await client.post("/Subscription", json=classic(receiver.url("/ping"),
                                                            payload=False))).json()
    assert full["channel"]["header"] == [f"Authorization: {MASK}"]
    for sub in (full, ping):
        await wait_status(client, sub["id"], "active")
    first = [r for r in receiver.received if r.path in ("/base", "/ping")]
    assert {(r.method, r.path, r.body) for r in first} == {("POST", "/base", b""),
                                                         ("POST", "/ping", b"")}
    assert all(r.headers["authorization"] == "Bearer abc-123" for r in first)

    other = await client.post("/Observation", json=make_lab_observation("2345-7"))
    assert other.status_code == 201
    obs = (await client.post("/Observation", json=make_lab_observation())).json()
    await receiver.wait_for(lambda r: len(r) >= 4)
    await asyncio.sleep(0.3)  # nothing for the other Observation
    later = receiver.received[2:]
    put = next(r for r in later if r.method == "PUT")
    assert put.path == f"/base/Observation/{obs['id']}"
    assert orjson.loads(put.body) == obs
    assert put.headers["content-type"] == "application/fhir+json"
    assert [(r.method, r.path, r.body) for r in later if r.path == "/ping"] == [
        ("POST", "/ping", b"")]
    assert len(later) == 2

    gone = await client.delete(f"/Observation/{obs['id']}")
    assert gone.status_code in (200, 204)
    await receiver.wait_for(lambda r: any(x.method == "DELETE" for x in r))
    status = (await client.get(f"/Subscription/{full['id']}/$status")).json()
    params = {p["name"]: p for p in status["entry"][0]["resource"]["parameter"]}
    assert "topic" not in params and params["events-since-subscription-start"] == {
        "name": "events-since-subscription-start", "valueString": "2"}


async def test_secrets_are_write_only_everywhere(client: httpx.AsyncClient,
                                                 receiver: Receiver) -> None:
    sent = subscription(receiver.url(), headers=("Authorization: Bearer t0p",))
    created = (await client.post("/Subscription", json=sent)).json()
    sub_id = created["id"]
    await wait_status(client, sub_id, "active")
    views = [created, (await client.get(f"/Subscription/{sub_id}")).json(),
             (await client.get("/Subscription", params={"_id": sub_id})).json(),
             (await client.get(f"/Subscription/{sub_id}/_history")).json(),
             (await client.get(f"/Subscription/{sub_id}/$status")).json()]
    text = orjson.dumps(views)
    assert b"s3cret" not in text and b"t0p" not in text
    assert MASK.encode() in text
    # Sending the masked values back keeps the stored ones: the next handshake (after the
    # update) is signed with the real secret and carries the real header.
    current = views[1]
    current["reason"] = "changed"
    assert (await client.put(f"/Subscription/{sub_id}", json=current)).status_code == 200
    await receiver.wait_for(lambda r: kinds(r).count("handshake") >= 2)
    second = [r for r in receiver.received if kinds([r]) == ["handshake"]][1]
    assert second.signature_ok is True
    assert second.headers["authorization"] == "Bearer t0p"
    ext = next(e for e in (await client.get(f"/Subscription/{sub_id}")).json()["channel"]
               ["extension"] if e["url"] == SECRET_EXT)
    assert ext["valueString"] == MASK
    # A mask with nothing stored behind it is refused.
    fresh = subscription(receiver.url(), secret=MASK)
    refused = await client.post("/Subscription", json=fresh)
    assert refused.status_code == 400 and "masked" in refused.text
    # A Subscription stored before secrets were write-only is masked at the next start.
    await wait_status(client, sub_id, "active")  # the dispatcher has written its status
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    async with ctx.db.unit_of_work(write=True) as uow:
        current = await uow.resources.get_current("Subscription", sub_id, for_update=True)
        old = orjson.loads(current.content)
        old["channel"]["extension"] = [{"url": SECRET_EXT, "valueString": "s3cret"}]
        token = SYSTEM_WRITE.set(True)
        try:
            await store_version(ctx, uow, old, current, method="PUT", base_check="structure")
        finally:
            SYSTEM_WRITE.reset(token)
    assert b"s3cret" in (await client.get(f"/Subscription/{sub_id}")).content
    assert await mask_stored_secrets(ctx) == [sub_id]
    assert b"s3cret" not in (await client.get(f"/Subscription/{sub_id}")).content


async def test_end_switches_off_and_stops_deliveries(client: httpx.AsyncClient,
                                                     receiver: Receiver) -> None:
    past = await client.post("/Subscription", json={**subscription(receiver.url()),
                                                    "end": "2020-01-01T00:00:00Z"})
    assert past.status_code == 201 and past.json()["status"] == "off"
    sub = {**subscription(receiver.url("/soon")), "end": in_seconds(1.5)}
    sub_id = (await client.post("/Subscription", json=sub)).json()["id"]
    await wait_status(client, sub_id, "active")
    # Nothing is due for it: the sweep switches it off once the end has passed.
    body = await wait_status(client, sub_id, "off", timeout=8)
    assert "end" in body["error"]
    before = len(receiver.received)
    assert (await client.post("/Flag", json=make_register_flag())).status_code == 201
    await asyncio.sleep(0.6)
    assert len(receiver.received) == before  # the earlier one never handshook either
    assert all(r.path == "/soon" for r in receiver.received)


async def test_topics_are_served_as_r4_basic(client: httpx.AsyncClient) -> None:
    found = (await client.get("/Basic", params={
        "code": "http://hl7.org/fhir/fhir-types|SubscriptionTopic"})).json()
    by_url = {}
    for entry in found["entry"]:
        basic = entry["resource"]
        url = next(e["valueUri"] for e in basic["extension"]
                   if e["url"] == "http://hl7.org/fhir/StructureDefinition/artifact-url")
        by_url[url] = basic
    statement = (await client.get("/metadata")).json()
    listed = {e["valueCanonical"] for r in statement["rest"][0]["resource"]
              if r["type"] == "Subscription" for e in r.get("extension", ())}
    assert set(by_url) == listed and len(listed) == 6
    basic = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Basic")
    assert "http://hl7.org/fhir/5.0/StructureDefinition/profile-SubscriptionTopic" in basic[
        "supportedProfile"]
    assert "code" in {p["name"] for p in basic["searchParam"]}
    one = (await client.get("/Basic/register-entry")).json()
    assert one["meta"]["profile"] == [
        "http://hl7.org/fhir/5.0/StructureDefinition/profile-SubscriptionTopic"]
    triggers = [e for e in one["extension"] if e["url"] == XVER + "resourceTrigger"]
    parts = {p["url"]: p for p in triggers[0]["extension"]}
    assert parts["resource"]["valueUri"] == "http://hl7.org/fhir/StructureDefinition/Flag"
    assert {e["url"] for e in one["extension"]} >= {XVER + "url", XVER + "title",
                                                    XVER + "canFilterBy"}


async def test_secure_classic_needs_read_access_and_topics_are_the_servers(
        secure_settings: Settings) -> None:
    async with secure_app(secure_settings) as secure:
        narrow = await secure.headers("gp", "system/Subscription.crus system/Flag.rs",
                                      client_id="narrow-gp")
        sub = classic("https://hooks.example.org/x", criteria="Observation?code=1")
        refused = await secure.http.post("/Subscription", json=sub, headers=narrow)
        assert refused.status_code == 403, refused.text
        assert refused.json()["issue"][0]["expression"] == ["Subscription.criteria"]
        flags = await secure.http.post("/Subscription", headers=narrow, json={
            **sub, "criteria": "Flag?status=active"})
        assert flags.status_code == 201, flags.text
        gp = await secure.headers("gp")
        topic = (await secure.http.get("/Basic/register-entry", headers=gp)).json()
        topic["extension"] = topic["extension"][:1]
        changed = await secure.http.put("/Basic/register-entry", json=topic, headers=gp)
        assert changed.status_code == 403, changed.text
