"""The console's Deliveries page and the $status delivery-state extension behind it: real
https receivers on 127.0.0.1 (one healthy, one answering 500, one closed port), two
clients' Subscriptions, people of three roles signed in through the code flow."""

from __future__ import annotations

import asyncio
import base64
import re
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from eolc_fhir.config import Settings
from eolc_fhir.subscriptions.delivery_state import DELIVERY_EXT
from eolc_fhir.subscriptions.receiver import Receiver
from tests.api.module_app import engine_name, module_database
from tests.api.test_console import BASE, _browser, _sign_in
from tests.builders import make_patient, make_register_flag
from tests.console_support import add_console_and_people, system_headers
from tests.security_support import SecureApp, secure_app
from tests.tls_support import loopback_tls
from tests.unit.subscriptions.support import notifications, subscription

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS = {"boss": ("admin", "EOLC1"), "nurse": ("coordination-centre", "CC001"),
         "commish": ("commissioner", "CCG01")}
SECRET = "hmac-key-never-shown"
HEADER = "Bearer receiver-token-never-shown"
FAST = {"delivery_retry_base_seconds": 0.05, "delivery_retry_max_seconds": 0.2,
        "dispatcher_poll_seconds": 0.2}


@dataclass
class World:
    app: SecureApp
    ids: dict[str, str]  # healthy, failing (500), closed (no receiver)
    gp: dict[str, str]


@pytest.fixture(scope="module")
def deliveries_url(engine_name: str, request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "deliveries")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _add_people(app: SecureApp) -> None:
    await add_console_and_people(app, USERS)


async def _status(app: SecureApp, headers: dict[str, str], sub_id: str) -> dict[str, Any]:
    answer = await app.http.get(f"/Subscription/{sub_id}/$status", headers=headers)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["entry"][0]["resource"])


def _delivery(status: dict[str, Any]) -> dict[str, Any]:
    [state] = [p for p in status["parameter"] if p["name"] == "status"]
    [ext] = [e for e in state.get("extension", []) if e["url"] == DELIVERY_EXT]
    return {p["url"]: next(v for k, v in p.items() if k.startswith("value"))
            for p in ext["extension"]}


async def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _subscribe(app: SecureApp, headers: dict[str, str], resource: dict[str, Any]) -> str:
    answer = await app.http.post("/Subscription", headers=headers, content=orjson.dumps(resource))
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(deliveries_url: str, tmp_path_factory: pytest.TempPathFactory
                ) -> AsyncIterator[World]:
    ca_file, tls = loopback_tls(tmp_path_factory.mktemp("tls"))
    healthy, failing = Receiver(tls=tls), Receiver(tls=tls, status=500)
    await healthy.start()
    await failing.start()
    settings = Settings(database_url=deliveries_url, base_url=BASE, delivery_ca_file=ca_file,
                        demo_keys_dir=Path(tmp_path_factory.mktemp("keys")), **FAST)
    try:
        async with secure_app(settings) as app:
            await _add_people(app)
            gp, hospital = (await system_headers(app, "test-gp", "gp"),
                            await system_headers(app, "test-hospital", "hospital"))
            put = await app.http.put("/Patient/eolc-patient-1", headers=gp,
                                     content=orjson.dumps(make_patient(id="eolc-patient-1")))
            assert put.status_code in (200, 201), put.text
            ids = {"healthy": await _subscribe(app, gp, subscription(
                       healthy.url(), secret=SECRET, headers=(f"Authorization: {HEADER}",))),
                   "failing": await _subscribe(app, hospital, subscription(failing.url())),
                   "closed": await _subscribe(app, gp, subscription(
                       f"https://127.0.0.1:{_closed_port()}/hook?token=in-the-query",
                       filters=("Flag?patient=Patient/eolc-patient-1",)))}
            flag = await app.http.post("/Flag", headers=gp,
                                       content=orjson.dumps(make_register_flag()))
            assert flag.status_code == 201, flag.text

            async def settled() -> bool:
                states = [await _status(app, gp if k != "failing" else hospital, i)
                          for k, i in ids.items()]
                codes = [next(p["valueCode"] for p in s["parameter"] if p["name"] == "status")
                         for s in states]
                return codes == ["active", "error", "error"] and \
                    _delivery(states[0]).get("backlog") == 0 and \
                    all(_delivery(s)["backlog"] == 1 for s in states[1:])

            await _until(settled)
            assert len(notifications(healthy.received)) == 1
            yield World(app, ids, gp)
    finally:
        await healthy.stop()
        await failing.stop()


def _order(html: str) -> list[str]:
    return re.findall(r'<li class="delivery status-\w+" id="sub-([^"]+)"', html)


@pytest.mark.engines("sqlite", "postgresql")
async def test_status_carries_the_delivery_state(world: World) -> None:
    healthy = _delivery(await _status(world.app, world.gp, world.ids["healthy"]))
    assert healthy["channel"] == "rest-hook" and healthy["owner"] == "test-gp"
    assert healthy["delivered-event-number"] == "1" and healthy["backlog"] == 0
    assert healthy["failures"] == 0 and "next-attempt" not in healthy
    assert re.match(r"\d{4}-\d\d-\d\dT", healthy["last-delivery"])
    closed = await _status(world.app, world.gp, world.ids["closed"])
    state = _delivery(closed)
    assert state["backlog"] == 1 and state["delivered-event-number"] == "0"
    assert state["failures"] >= 1 and "next-attempt" in state and "last-delivery" not in state
    assert "Cannot connect" in state["last-error"]
    [error] = [p for p in closed["parameter"] if p["name"] == "error"]
    assert error["valueCodeableConcept"]["text"] == state["last-error"]
    only_errors = await world.app.http.get("/Subscription/$status", headers=world.gp,
                                           params={"status": "error,off"})
    assert [e["resource"]["parameter"][0]["valueReference"]["reference"].rsplit("/")[-1]
            for e in only_errors.json()["entry"]] == [world.ids["closed"]]  # not another's
    wrong = await world.app.http.get("/Subscription/$status?status=broken", headers=world.gp)
    assert wrong.status_code == 400 and wrong.json()["issue"][0]["expression"] == ["status"]
    statement = (await world.app.http.get("/metadata")).json()
    [entry] = [r for r in statement["rest"][0]["resource"] if r["type"] == "Subscription"]
    [status_op] = [o for o in entry["operation"] if o["name"] == "status"]
    assert DELIVERY_EXT in status_op["documentation"]


@pytest.mark.engines("sqlite", "postgresql")
async def test_the_admin_sees_every_client_problems_first_and_no_secret(world: World) -> None:
    async with _browser(world.app) as browser:
        await _sign_in(browser, "boss")
        page = await browser.get("/console/deliveries")
    assert page.status_code == 200, page.text
    html = page.text
    order = [i for i in _order(html) if i in world.ids.values()]  # (and the console's own)
    assert order[-1] == world.ids["healthy"] and len(order) == 3  # the two in error first
    assert "test-gp" in html and "test-hospital" in html
    failing = html[html.index(f'id="sub-{world.ids["failing"]}"'):]
    assert "HTTP 500" in failing.split("</li>")[0]
    assert "1 event not yet acknowledged" in failing.split("</li>")[0]
    closed = html[html.index(f'id="sub-{world.ids["closed"]}"'):].split("</li>")[0]
    assert "Cannot connect" in closed and "Next retry" in closed
    assert "Flag?patient=(hidden)" in closed and "eolc-patient-1" not in html
    assert "in-the-query" not in html  # an endpoint's query string may hold a token
    healthy = html[html.index(f'id="sub-{world.ids["healthy"]}"'):].split("</li>")[0]
    assert "event 1 at" in healthy and "0 events not yet acknowledged" in healthy
    for secret in (SECRET, HEADER, "receiver-token", "******"):
        assert secret not in html
    assert "Hughes" not in html and "Margaret" not in html  # no patient data
    assert "2 in error" in html
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.engines("sqlite")
async def test_filters_by_status_and_channel(world: World) -> None:
    async with _browser(world.app) as browser:
        await _sign_in(browser, "boss")
        errors = await browser.get("/console/deliveries", params={"status": "error"})
        hooks = await browser.get("/console/deliveries", params={"channel": "rest-hook"})
        none = await browser.get("/console/deliveries", params={"channel": "rest-hook",
                                                                 "status": "off"})
        odd = await browser.get("/console/deliveries", params={"status": "<b>", "page": "x"})
    assert set(_order(errors.text)) == {world.ids["failing"], world.ids["closed"]}
    assert '<option value="error" selected>' in errors.text
    assert set(_order(hooks.text)) == set(world.ids.values())
    assert _order(none.text) == [] and "No subscription to show." in none.text
    assert odd.status_code == 200 and set(world.ids.values()) <= set(_order(odd.text))


@pytest.mark.engines("sqlite")
async def test_another_role_sees_only_its_client_and_the_commissioner_is_refused(
        world: World) -> None:
    async with _browser(world.app) as browser:
        await _sign_in(browser, "nurse")
        before = await browser.get("/console/deliveries")
        bound = await browser.post("/console/live/token", headers={"Origin": BASE})
        assert bound.status_code == 200, bound.text
        after = await browser.get("/console/deliveries")
    assert before.status_code == 200 and _order(before.text) == []
    mine = _order(after.text)
    assert len(mine) == bound.json()["subscriptions"] >= 1
    assert not set(mine) & set(world.ids.values()) and "test-gp" not in after.text
    assert "websocket" in after.text and "not tracked" in after.text
    async with _browser(world.app) as browser:
        await _sign_in(browser, "commish")
        refused = await browser.get("/console/deliveries")
    assert refused.status_code == 403 and "Not shown (403)" in refused.text
    assert world.ids["healthy"] not in refused.text


@pytest.mark.engines("sqlite")
async def test_reading_the_page_is_audited_with_the_person(world: World) -> None:
    admin = await system_headers(world.app, "auditor", "admin")
    async with _browser(world.app) as browser:
        await _sign_in(browser, "boss")
        assert (await browser.get("/console/deliveries")).status_code == 200
    answer = await world.app.http.get("/AuditEvent", headers=admin,
                                      params={"_count": "50", "_sort": "-date"})
    events = [e["resource"] for e in answer.json()["entry"]]
    status_read = next(e for e in events if e["subtype"][0]["code"] == "operation"
                       and e["agent"][0]["altId"] == "boss")
    assert status_read["outcome"] == "0" and status_read["agent"][0]["altId"] == "boss"
    entities = {e["what"]["reference"] for e in status_read["entity"] if "what" in e}
    assert entities >= {f"Subscription/{i}" for i in world.ids.values()}
    assert all(e.startswith("Subscription/") for e in entities)  # not Parameters/<uuid>
    [query] = [e["query"] for e in status_read["entity"] if "query" in e]
    assert base64.b64decode(query).decode() == "$status"
    assert not any(e["what"]["reference"].startswith("Patient/")
                   for e in status_read["entity"] if "what" in e)
