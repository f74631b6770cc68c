"""The console in Chromium against a real uvicorn (auth on, demo people): sign in through the
form, find a person with the keyboard alone, open the live board, see REST changes arrive on
it in words, lose the websocket and get what was missed replayed once, and check every page
at 640 CSS pixels (200% zoom of 1280) and with axe-core."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.test_wishes_html import BROWSER_ARGS, CHROMIUM, _browser_or_skip
from tests.builders import VALID_NHS_NUMBERS, make_cpr_flag, make_patient, make_register_flag
from tests.e2e.conftest import ServerProcess
from tests.e2e.console_support import (
    demo_gp,
    demo_server,
    shot,
    sign_in,
    watched,
)

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]

USER = "demo-user-coordination-centre"
PID = "eolc-patient-1"
PRINTABLE = "/printable-summary"  # the $wishes HTML answer, served to the browser by route
PAGES = ("/console/", f"/console/patient/{PID}", "/console/live", PRINTABLE)


@pytest.fixture
def console_server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    yield from demo_server(migrated_url, tmp_path)


async def _serve_printable(target: Any, url: str, printable: httpx.Response) -> None:
    """The printable summary needs a bearer token a browser has not got: the API's own
    answer (its headers and CSP included) is handed to the page or context by a route."""
    await target.route(url + PRINTABLE, lambda route: route.fulfill(
        status=200, headers=dict(printable.headers), body=printable.content))


async def _axe_serious(browser: Any, page: Any, url: str,
                       printable: httpx.Response) -> dict[str, list[str]]:
    """axe-core's serious and critical violations on each console page, by page. axe is
    injected as a script, which the pages' CSP forbids: this second context (with the
    first's cookies) bypasses the CSP, for the check alone. The sign-in page is checked
    in a context without the cookies."""
    from axe_playwright_python.async_playwright import Axe

    found: dict[str, list[str]] = {}
    for state in (None, await page.context.storage_state()):
        context = await browser.new_context(bypass_csp=True, storage_state=state)
        await _serve_printable(context, url, printable)
        checked = await context.new_page()
        for path in PAGES if state else ("/console/",):
            await checked.goto(url + path)
            assert (checked.url == url + path) == (state is not None)  # signed in, or not
            results = await Axe().run(checked)
            bad = [v["id"] for v in results.response["violations"]
                   if v.get("impact") in ("serious", "critical")]
            if bad:
                found[path if state else "sign-in"] = bad
        await context.close()
    return found


async def _too_wide(page: Any, url: str) -> dict[str, int]:
    """Pages wider than a 640px viewport (1280px at 200% zoom), with their scroll width."""
    await page.set_viewport_size({"width": 640, "height": 900})
    wide: dict[str, int] = {}
    for path in PAGES:
        await page.goto(url + path)
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > 640:
            wide[path] = width
    await page.set_viewport_size({"width": 1000, "height": 900})
    return wide


async def _sign_in(page: Any, url: str) -> None:
    await page.goto(f"{url}/console/")
    assert "/auth/authorize" in page.url
    await page.set_viewport_size({"width": 640, "height": 900})
    assert await page.evaluate("document.documentElement.scrollWidth") <= 640
    await page.set_viewport_size({"width": 1000, "height": 900})
    await shot(page, "signin")
    await sign_in(page, USER, f"{url}/console/")


async def _find_with_the_keyboard(page: Any, url: str) -> None:
    """Skip link first, then the NHS number field; Enter finds; focus is always visible."""
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to main content"
    assert await page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "main"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "nhs"
    assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") \
        == "solid"
    await page.keyboard.type(VALID_NHS_NUMBERS[0][:9] + "9")
    assert "check digit does not match" in await page.inner_text("#nhs-check")
    await page.keyboard.press("Backspace")
    await page.keyboard.type(VALID_NHS_NUMBERS[0][9])
    assert await page.inner_text("#nhs-check") == "Check digit correct."
    await shot(page, "find")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{url}/console/patient/{PID}")
    assert (await page.inner_text("#validity")).startswith("Still valid?")
    assert (await page.inner_text("#cpr-headline")).startswith("CPR:")
    assert "CPR decision created" in await page.inner_text("table.history")
    await shot(page, "patient")


async def _item(page: Any, focus: str) -> Any:
    item = page.locator("#events li", has=page.locator(".ref", has_text=f"({focus})"))
    await item.first.wait_for(timeout=10_000)
    return item


async def _watch_a_change_in_words(page: Any, gp: httpx.AsyncClient) -> None:
    flag = (await gp.post("/Flag", json=make_register_flag())).json()
    item = await _item(page, f"Flag/{flag['id']}")
    await item.locator("a").wait_for(timeout=10_000)  # the person, once looked up
    text = await item.inner_text()
    assert "Register entry created" in text and "Margaret Hughes" in text
    assert await item.locator("a").get_attribute("href") == f"/console/patient/{PID}"
    assert await item.count() == 1  # one line for the change, whichever topics it hit
    await page.select_option("#practice", label="Riverside Surgery")
    assert await page.locator("#events li:visible").count() == 1
    await page.select_option("#topic", label="What Patient/$wishes shows changed")
    assert await page.locator("#events li:visible").count() == 1
    await page.select_option("#topic", label="CPR decision changed")
    assert await page.locator("#events li:visible").count() == 0
    await page.select_option("#topic", value="")
    await page.select_option("#practice", value="")
    await shot(page, "live")


async def _lose_the_socket_and_replay(page: Any, sockets: list[Any],
                                      gp: httpx.AsyncClient) -> None:
    """The socket drops and no new token is to be had; a change is made meanwhile; once
    tokens come back the board reconnects and shows the change once, from $events."""
    await page.route("**/console/live/token", lambda route: route.abort())
    await sockets[-1].close(code=1001, reason="dropped by the test")
    status = page.locator("#live-status")
    await status.filter(has_text=re.compile("^Reconnecting")).wait_for(timeout=5_000)
    flag = {**make_cpr_flag(), "id": "cpr-1"}
    flag["period"]["end"] = "2099-01-01"
    assert (await gp.put("/Flag/cpr-1", json=flag)).status_code == 200
    await page.unroute("**/console/live/token")
    await status.filter(has_text="Missed events replayed: 1.").wait_for(timeout=15_000)
    item = await _item(page, "Flag/cpr-1")
    assert await item.count() == 1
    assert "CPR decision updated" in await item.inner_text()
    dead = {**make_patient(id=PID), "deceasedDateTime": "2026-12-01T03:00:00Z"}
    assert (await gp.put(f"/Patient/{PID}", json=dead)).status_code == 200
    death = page.locator("#events li.death")
    await death.first.wait_for(timeout=10_000)
    assert "Death recorded" in await death.first.inner_text()


async def test_sign_in_find_and_watch_the_live_board(console_server: ServerProcess,
                                                     tmp_path: Path) -> None:
    url = console_server.url
    async with await demo_gp(console_server, tmp_path) as gp:
        for resource in (make_patient(id=PID), {**make_cpr_flag(), "id": "cpr-1"}):
            put = await gp.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
            assert put.status_code in (200, 201), put.text
        printable = await gp.get(f"/Patient/{PID}/$wishes", params={"_format": "html"})
        assert printable.status_code == 200
        async with _browser_or_skip()() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                       args=BROWSER_ARGS)
            page = await browser.new_page(viewport={"width": 1000, "height": 900})
            problems = watched(page)
            sockets: list[Any] = []

            def through(ws: Any) -> None:  # every board socket, passed on to the server
                ws.connect_to_server()
                sockets.append(ws)
            await page.route_web_socket(re.compile(r".*/ws$"), through)
            await _serve_printable(page, url, printable)
            await _sign_in(page, url)
            await _find_with_the_keyboard(page, url)
            await page.goto(f"{url}/console/live")
            await page.locator("#live-status", has_text=re.compile("^Connected")).wait_for(
                timeout=10_000)
            await _watch_a_change_in_words(page, gp)
            await _lose_the_socket_and_replay(page, sockets, gp)
            wide = await _too_wide(page, url)
            serious = await _axe_serious(browser, page, url, printable)
            await browser.close()
    assert wide == {}  # nothing scrolls sideways at 640 CSS pixels
    assert serious == {}  # axe-core: no serious or critical violation on any console page
    # a CSP violation or script error would be reported here; the aborted token requests
    # while the board was kept offline are the test's own doing
    assert [p for p in problems if "ERR_FAILED" not in p] == []
