"""Notifications respect what each subscriber may see: a GP person's websocket hears of their
practice's people only, and nobody hears of a resource hidden by withdrawn consent from
them; the rest arrives in order, numbered densely. Real sockets: the app under uvicorn on
loopback, a websocket client, and a webhook receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import update
from websockets.asyncio.client import connect

from eolc_fhir.config import Settings
from eolc_fhir.security.audience import Owner, owner_from_text
from eolc_fhir.services.subscriptions import lifecycle, ownership
from eolc_fhir.storage.subscription_tables import subscription_state
from eolc_fhir.subscriptions.endpoints import check_endpoint
from eolc_fhir.subscriptions.receiver import Receiver
from tests.api.test_security_people_visibility import (
    MINE,
    OTHER,
    OURS,
    THEIRS,
    _person,
    _practice,
    person,
)
from tests.api.test_subscription_websocket import params, ws_subscription
from tests.api.test_websocket_hub import receive, served
from tests.builders import make_consent_to_share, make_register_flag
from tests.security_support import SecureApp, secure, secure_settings
from tests.unit.subscriptions.support import (
    all_event_numbers,
    event_numbers,
    kinds,
    notifications,
    params_of,
    subscription,
)

__all__ = ["secure", "secure_settings"]  # fixtures
pytestmark = pytest.mark.engines("sqlite")

WITHDRAWN = "vis-withdrawn"
WITHDRAWAL = [{"coding": [{"system": "http://snomed.info/sct", "code": "882941000000102",
                           "display": "Withdrawal of consent for sharing end of life care "
                                      "coordination record"}]}]


@pytest.fixture
def loopback_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's deployment accepts http webhooks on loopback (as --insecure-dev does):
    the receiver here speaks no TLS. Every other endpoint rule still applies."""
    def allowing(url: str, *, insecure_dev: bool, allowed_hosts: Any) -> None:
        check_endpoint(url, insecure_dev=True, allowed_hosts=allowed_hosts)
    monkeypatch.setattr(lifecycle, "check_endpoint", allowing)


@pytest.fixture
async def live(migrated_url: str, tmp_path: Path) -> AsyncIterator[SecureApp]:
    settings = Settings(database_url=migrated_url, base_url="http://test",
                        demo_keys_dir=tmp_path / "keys", dispatcher_poll_seconds=0.2,
                        delivery_retry_base_seconds=0.05, websocket_probe_seconds=0.05)
    async with served(settings) as (base, app), httpx.AsyncClient(base_url=base) as http:
        secure = SecureApp(http, app)
        gp = await secure.headers("gp")
        for resource in (_practice("vis-ours", OURS, "Riverside Surgery"),
                         _practice("vis-theirs", THEIRS, "Hilltop Surgery"),
                         _person(MINE, "vis-ours"), _person(OTHER, "vis-theirs"),
                         {**_person(MINE, "vis-ours"), "id": WITHDRAWN}):
            path = f"/{resource['resourceType']}/{resource['id']}"
            put = await http.put(path, content=orjson.dumps(resource), headers=gp)
            assert put.status_code == 201, put.text
        withdrawal = make_consent_to_share(patient={"reference": f"Patient/{WITHDRAWN}"},
                                           category=WITHDRAWAL)
        assert (await http.post("/Consent", json=withdrawal, headers=gp)).status_code == 201
        yield secure


def _flag(pid: str) -> dict[str, Any]:
    return make_register_flag(subject={"reference": f"Patient/{pid}"})


def _foci(bundle: dict[str, Any]) -> list[str]:
    return [str(e["focus"]["valueReference"]["reference"]).split("/")[-1]
            for e in params_of(bundle)["notification-event"]]


@pytest.mark.engines("sqlite", "postgresql")
async def test_subscribers_hear_only_of_what_they_may_see(
        live: SecureApp, loopback_webhooks: None) -> None:
    receiver = await Receiver(secret="s3cret").start()
    try:
        await _hear(live, receiver)
    finally:
        await receiver.stop()


async def _hear(live: SecureApp, receiver: Receiver) -> None:
    http = live.http
    gp_person = person(live, "gp", OURS, "user/*.rs user/Subscription.cru")
    centre = await live.headers("coordination-centre")
    hook = await http.post("/Subscription", headers=centre, content=orjson.dumps(
        subscription(receiver.url(), content="full-resource")))
    assert hook.status_code == 201, hook.text
    sub = await http.post("/Subscription", headers=gp_person,
                          content=orjson.dumps(ws_subscription()))
    assert sub.status_code == 201, sub.text
    # The person's Subscription is the person's: their app's other users do not see it.
    colleague = person(live, "gp", OURS, "user/*.rs user/Subscription.cru", user="another-gp")
    assert (await http.get(f"/Subscription/{sub.json()['id']}", headers=colleague)
            ).status_code == 403
    token = params((await http.get(f"/Subscription/{sub.json()['id']}/$get-ws-binding-token",
                                   headers=gp_person)).json())["token"][0]
    async with connect(str(http.base_url).replace("http", "ws") + "/ws") as ws:
        await ws.send(f"bind-with-token {token}")
        assert params_of(await receive(ws))["type"]["valueCode"] == "handshake"
        gp, hospital = await live.headers("gp"), await live.headers("hospital")
        written = []
        for pid, headers in ((MINE, gp), (OTHER, gp), (WITHDRAWN, hospital), (MINE, gp)):
            flag = await http.post("/Flag", json=_flag(pid), headers=headers)
            assert flag.status_code == 201, flag.text
            written.append(flag.json()["id"])
        heard: list[str] = []
        numbers: list[int] = []
        while len(heard) < 2:
            bundle = await receive(ws)
            if params_of(bundle)["type"]["valueCode"] == "event-notification":
                heard += _foci(bundle)
                numbers += event_numbers(bundle)
        assert heard == [written[0], written[3]] and numbers == [1, 2]
    await receiver.wait_for(lambda r: len(all_event_numbers(r)) >= 3)
    assert all_event_numbers(receiver.received) == [1, 2, 3]
    assert [f for b in notifications(receiver.received) for f in _foci(b)] == [
        written[0], written[1], written[3]]
    assert kinds(receiver.received)[0] == "handshake"
    # The same numbers everywhere: $events replays what the owner was told, no gaps.
    replay = (await http.get(f"/Subscription/{sub.json()['id']}/$events",
                             headers=gp_person)).json()
    assert [int(p["part"][0]["valueString"]) for p in replay["entry"][0]["resource"]["parameter"]
            if p["name"] == "notification-event"] == [1, 2]



async def test_a_subscription_kept_from_before_gets_its_clients_view(secure: SecureApp) -> None:
    """Delivery state written before owners' views were kept: the start fills it in from
    the Subscription's client, so it is narrowed from then on."""
    centre = await secure.headers("coordination-centre")
    made = await secure.http.post("/Subscription", headers=centre, content=orjson.dumps(
        ws_subscription()))
    assert made.status_code == 201, made.text
    sub_id = made.json()["id"]
    async with secure.ctx.db.unit_of_work(write=True) as uow:
        await uow.connection.execute(update(subscription_state).where(
            subscription_state.c.sub_id == sub_id).values(owner=None))
    assert await ownership.switch_off_ownerless(secure.ctx) == []
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        state = await uow.subscriptions.get(sub_id)
    assert state is not None and owner_from_text(state.owner) == Owner(
        "coordination-centre", "CC001", False)
