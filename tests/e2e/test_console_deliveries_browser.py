"""The Deliveries page in Chromium against a real uvicorn (auth on, demo people): the demo
admin signs in, sees a healthy and a failing webhook Subscription, filters by keyboard only;
axe finds nothing serious and a 640px-wide window (1280px at 200%) needs no sideways scroll."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eolc_fhir.subscriptions.receiver import Receiver
from tests.api.test_wishes_html import BROWSER_ARGS, CHROMIUM, _browser_or_skip
from tests.builders import make_patient, make_register_flag
from tests.e2e.conftest import ServerProcess
from tests.e2e.console_support import (
    axe_serious,
    demo_gp,
    demo_server,
    shot,
    sign_in,
    tab_to,
    watched,
)
from tests.tls_support import loopback_tls
from tests.unit.subscriptions.support import subscription

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]

USER = "demo-user-admin"


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Any]:
    return loopback_tls(tmp_path)


@pytest.fixture
def deliveries_server(migrated_url: str, tmp_path: Path,
                      tls_files: tuple[Path, Any]) -> Iterator[ServerProcess]:
    yield from demo_server(migrated_url, tmp_path, EOLC_DELIVERY_CA_FILE=str(tls_files[0]),
                           EOLC_DISPATCHER_POLL_SECONDS="0.2",
                           EOLC_DELIVERY_RETRY_MAX_SECONDS="5")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _two_subscriptions(gp: httpx.AsyncClient, receiver: Receiver) -> dict[str, str]:
    """One to the receiver, one to a closed port; a register entry; both settled."""
    put = await gp.put("/Patient/eolc-patient-1", json=make_patient(id="eolc-patient-1"))
    assert put.status_code in (200, 201), put.text
    ids = {}
    for name, url in (("healthy", receiver.url()),
                      ("failing", f"https://127.0.0.1:{_closed_port()}/hook")):
        made = await gp.post("/Subscription", json={**subscription(url),
                                                    "reason": f"{name} feed"})
        assert made.status_code == 201, made.text
        ids[name] = str(made.json()["id"])
    assert (await gp.post("/Flag", json=make_register_flag())).status_code == 201
    for _ in range(200):
        found = (await gp.get("/Subscription/$status")).json()["entry"]
        codes = sorted(p["valueCode"] for e in found for p in e["resource"]["parameter"]
                       if p["name"] == "status")
        if codes == ["active", "error"] and len(receiver.received) >= 2:
            return ids
        await asyncio.sleep(0.05)
    raise AssertionError(f"the subscriptions did not settle: {codes}")


async def test_admin_sees_and_filters_deliveries(deliveries_server: ServerProcess,
                                                 tmp_path: Path,
                                                 tls_files: tuple[Path, Any]) -> None:
    url = deliveries_server.url
    receiver = await Receiver(tls=tls_files[1]).start()
    try:
        async with await demo_gp(deliveries_server, tmp_path) as gp:
            ids = await _two_subscriptions(gp, receiver)
        async with _browser_or_skip()() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                       args=BROWSER_ARGS)
            page = await browser.new_page(viewport={"width": 1000, "height": 900})
            problems = watched(page)
            await page.goto(f"{url}/console/deliveries")
            await sign_in(page, USER, f"{url}/console/deliveries")
            cards = page.locator("li.delivery")
            assert await cards.count() == 2
            assert await cards.first.get_attribute("id") == f"sub-{ids['failing']}"
            assert "Cannot connect" in await cards.first.inner_text()
            assert "event 1 at" in await page.locator(f"#sub-{ids['healthy']}").inner_text()
            await shot(page, "deliveries")
            serious = await axe_serious(browser, page)
            await tab_to(page, "status")
            await page.keyboard.press("e")  # the first option starting with e: error
            await tab_to(page, "channel")
            await page.keyboard.press("Tab")  # to the Show button
            outline = await page.evaluate(
                "getComputedStyle(document.activeElement).outlineStyle")
            await page.keyboard.press("Enter")
            await page.wait_for_url(f"{url}/console/deliveries?status=error&channel=")
            assert await cards.count() == 1
            await page.set_viewport_size({"width": 640, "height": 900})
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            await browser.close()
    finally:
        await receiver.stop()
    assert serious == []  # axe-core: no serious or critical violation
    assert outline != "none"  # the focused control shows its focus
    assert overflow <= 0  # no horizontal scroll at 640px (1280px at 200% zoom)
    assert problems == []  # a CSP violation or script error would be reported here


