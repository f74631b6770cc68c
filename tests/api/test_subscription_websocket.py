"""The websocket channel: Subscriptions with channel websocket, $get-ws-binding-token and the
rules of its tokens (auth on). The socket itself is driven end to end in
tests/e2e/test_websocket_channel.py."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest

from eolc_fhir.config import Settings
from eolc_fhir.security.tokens import InvalidToken
from eolc_fhir.security.ws_binding import issue_binding
from eolc_fhir.services.subscriptions.ws_tokens import redeem
from tests.security_support import SecureApp, secure

__all__ = ["secure"]  # the fixture
from tests.unit.subscriptions.support import BACKPORT, subscription

pytestmark = pytest.mark.engines("sqlite")


def ws_subscription(**kw: Any) -> dict[str, Any]:
    resource = subscription("", secret=None, timeout=None, **kw)
    resource["channel"].pop("endpoint")
    resource["channel"]["type"] = "websocket"
    return resource


def params(body: dict[str, Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for p in body["parameter"]:
        found.setdefault(p["name"], []).append(next(v for k, v in p.items() if k != "name"))
    return found


@pytest.fixture
def secure_settings(migrated_url: str, tmp_path: Any) -> Settings:
    return Settings(database_url=migrated_url, base_url="http://test",
                    demo_keys_dir=tmp_path / "keys", dispatcher_poll_seconds=0.1,
                    websocket_token_seconds=60)


async def create(secure: SecureApp, headers: dict[str, str], resource: dict[str, Any]) -> str:
    resp = await secure.http.post("/Subscription", json=resource, headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def test_websocket_subscription_is_active_never_posted_and_advertised(
        secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    sub_id = await create(secure, gp, ws_subscription(heartbeat=1))
    await asyncio.sleep(0.4)  # dispatcher rounds: it must neither handshake nor heartbeat
    body = (await secure.http.get(f"/Subscription/{sub_id}", headers=gp)).json()
    assert body["status"] == "active" and "error" not in body
    state = (await secure.http.get(f"/Subscription/{sub_id}/$status", headers=gp)).json()
    assert state["entry"][0]["resource"]["parameter"][2]["valueCode"] == "active"
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        row = await uow.subscriptions.get(sub_id)
    assert row is not None and row.last_sent_us == 0 and row.failures == 0
    # Another channel code in backport-channel-type than channel.type: refused.
    odd = ws_subscription()
    odd["channel"]["_type"] = {"extension": [{"url": BACKPORT + "backport-channel-type",
                                              "valueCoding": {"code": "email"}}]}
    resp = await secure.http.post("/Subscription", json=odd, headers=gp)
    assert resp.status_code == 422 and "email" in resp.text
    assert resp.json()["issue"][0]["expression"] == ["Subscription.channel.type"]
    statement = (await secure.http.get("/metadata")).json()
    rest = statement["rest"][0]
    assert {"url": "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket",
            "valueUri": "ws://test/ws"} in rest["extension"]
    entry = next(r for r in rest["resource"] if r["type"] == "Subscription")
    assert {"name": "get-ws-binding-token", "definition": "http://hl7.org/fhir/uv/"
            "subscriptions-backport/OperationDefinition/backport-subscription-get-ws-binding-token"
            } in entry["operation"]


async def test_binding_token_operation_and_its_rules_and_tokens_that_do_not_bind(
        secure: SecureApp) -> None:
    gp, hospice = await secure.headers("gp"), await secure.headers("hospice")
    mine = await create(secure, gp, ws_subscription())
    second = await create(secure, gp, ws_subscription(topic="patient-wishes"))
    hook = await create(secure, gp, subscription("https://example.org/hook"))
    theirs = await create(secure, hospice, ws_subscription())

    before = time.time()
    resp = await secure.http.get(f"/Subscription/{mine}/$get-ws-binding-token", headers=gp)
    assert resp.status_code == 200, resp.text
    found = params(resp.json())
    assert found["subscription"] == [f"Subscription/{mine}"]
    assert found["websocket-url"] == ["ws://test/ws"]
    assert found["expiration"][0] > time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(before))

    binding, rows = await redeem(secure.ctx, found["token"][0])
    assert [r.sub_id for r in rows] == [mine] and binding.principal is not None
    assert binding.principal.client_id == "test-gp" and binding.expires_at <= before + 61
    with pytest.raises(InvalidToken, match="already used"):
        await redeem(secure.ctx, found["token"][0])

    # Type level: several ids (query or Parameters), or none: every websocket one of mine.
    resp = await secure.http.post("/Subscription/$get-ws-binding-token", headers=gp,
                                  content=orjson.dumps({"resourceType": "Parameters", "parameter": [
                                      {"name": "id", "valueId": mine},
                                      {"name": "id", "valueId": second}]}))
    assert params(resp.json())["subscription"] == [f"Subscription/{mine}",
                                                  f"Subscription/{second}"]
    resp = await secure.http.get("/Subscription/$get-ws-binding-token", headers=gp)
    assert sorted(params(resp.json())["subscription"]) == sorted(
        [f"Subscription/{mine}", f"Subscription/{second}"])

    refusals = [(f"/Subscription/{theirs}/$get-ws-binding-token", 403),
                (f"/Subscription/$get-ws-binding-token?id={theirs}", 403),
                (f"/Subscription/{hook}/$get-ws-binding-token", 422),
                ("/Subscription/nope/$get-ws-binding-token", 404),
                ("/Subscription/$get-ws-binding-token?id=bad$id", 400)]
    for url, status in refusals:
        resp = await secure.http.get(url, headers=gp)
        assert resp.status_code == status, (url, resp.text)
        assert resp.json()["resourceType"] == "OperationOutcome"
    commissioner = await secure.headers("commissioner")
    resp = await secure.http.get("/Subscription/$get-ws-binding-token", headers=commissioner)
    assert resp.status_code == 403  # no read access to Subscriptions at all
    unauthenticated = await secure.http.get(f"/Subscription/{mine}/$get-ws-binding-token")
    assert unauthenticated.status_code == 401

    # Tokens that do not bind: none, garbage, an access token (not a binding token), one
    # whose Subscription was switched off since, one past its expiration.
    access_token = gp["Authorization"].split()[1]
    for bad in ("", "not-a-token", access_token):
        with pytest.raises(InvalidToken):
            await redeem(secure.ctx, bad)
    # A token for a Subscription switched off since: refused at bind.
    resp = await secure.http.get(f"/Subscription/{mine}/$get-ws-binding-token", headers=gp)
    token = params(resp.json())["token"][0]
    off = (await secure.http.get(f"/Subscription/{mine}", headers=gp)).json()
    off["status"] = "off"
    assert (await secure.http.put(f"/Subscription/{mine}", json=off,
                                  headers=gp)).status_code == 200
    with pytest.raises(InvalidToken, match="off"):
        await redeem(secure.ctx, token)
    # An expired one: signed by the server, past its exp.
    principal = await secure.ctx.security.tokens.verify(access_token)
    expired, _ = issue_binding(secure.ctx.security.tokens.keys, principal, [mine],
                               int(time.time()) - 1)
    with pytest.raises(InvalidToken, match="expired"):
        await redeem(secure.ctx, expired)
