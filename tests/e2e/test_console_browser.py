"""The console in Chromium against a real uvicorn (auth on, demo people): sign in through the
form, find a person, open the live board, see a REST change arrive on it."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eolc_fhir.security.client_side import read_key_file, request_token
from eolc_fhir.security.demo import demo_password
from eolc_fhir.security.roles import default_scopes
from tests.api.test_wishes_html import BROWSER_ARGS, CHROMIUM, _browser_or_skip
from tests.builders import VALID_NHS_NUMBERS, make_cpr_flag, make_patient, make_register_flag
from tests.e2e.conftest import ServerProcess, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]

USER = "demo-user-coordination-centre"


@pytest.fixture
def console_server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(tmp_path / "keys"),
           "EOLC_RATE_LIMIT_PER_MINUTE": "0"}
    proc = start_server(migrated_url, tmp_path, env=env)
    try:
        yield proc
    finally:
        proc.stop()


async def _gp(server: ServerProcess, tmp_path: Path) -> httpx.AsyncClient:
    key = read_key_file(tmp_path / "keys" / "demo-gp.jwk.json")
    answer = await asyncio.to_thread(request_token, server.url, "demo-gp", key,
                                     default_scopes("gp"))
    return httpx.AsyncClient(base_url=server.url, headers={
        "Authorization": f"Bearer {answer['access_token']}",
        "Content-Type": "application/fhir+json"})


async def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("EOLC_SCREENSHOT_DIR")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)


async def _axe_serious(browser: Any, page: Any, url: str) -> dict[str, list[str]]:
    """axe-core's serious and critical violations on each console page, by page. axe is
    injected as a script, which the pages' CSP forbids: this second context (with the
    first's cookies) bypasses the CSP, for the check alone."""
    from axe_playwright_python.async_playwright import Axe

    context = await browser.new_context(bypass_csp=True,
                                        storage_state=await page.context.storage_state())
    checked = await context.new_page()
    found: dict[str, list[str]] = {}
    for path in ("/console/", "/console/patient/eolc-patient-1", "/console/live"):
        await checked.goto(url + path)
        assert checked.url == url + path  # the session came along: not the sign-in page
        results = await Axe().run(checked)
        bad = [v["id"] for v in results.response["violations"]
               if v.get("impact") in ("serious", "critical")]
        if bad:
            found[path] = bad
    await context.close()
    return found


async def test_sign_in_find_and_watch_the_live_board(console_server: ServerProcess,
                                                     tmp_path: Path) -> None:
    url = console_server.url
    async with await _gp(console_server, tmp_path) as gp:
        for resource in (make_patient(id="eolc-patient-1"), {**make_cpr_flag(), "id": "cpr-1"}):
            put = await gp.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
            assert put.status_code in (200, 201), put.text
        async with _browser_or_skip()() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                       args=BROWSER_ARGS)
            page = await browser.new_page(viewport={"width": 1000, "height": 900})
            problems: list[str] = []
            page.on("console", lambda message: problems.append(message.text))
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"{url}/console/")
            assert "/auth/authorize" in page.url
            await _shot(page, "signin")
            await page.fill("#username", USER)
            await page.fill("#password", demo_password(USER))
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{url}/console/")
            await page.fill("#nhs", VALID_NHS_NUMBERS[0][:9] + "9")
            assert "check digit does not match" in await page.inner_text("#nhs-check")
            await page.fill("#nhs", VALID_NHS_NUMBERS[0])
            assert await page.inner_text("#nhs-check") == "Check digit correct."
            await _shot(page, "find")
            await page.click("form.find button[type=submit]")
            await page.wait_for_url(f"{url}/console/patient/eolc-patient-1")
            assert (await page.inner_text("#cpr-headline")).startswith("CPR:")
            assert "created" in await page.inner_text("table.history")
            await _shot(page, "patient")
            await page.goto(f"{url}/console/live")
            await page.locator("#live-status", has_text=re.compile("^Connected")).wait_for(
                timeout=10_000)
            flag = (await gp.post("/Flag", json=make_register_flag())).json()
            item = page.locator("#events li").first
            await item.wait_for(timeout=10_000)
            assert f"Flag/{flag['id']}" in await item.inner_text()
            await _shot(page, "live")
            await page.select_option("#topic", label="What Patient/$wishes shows changed")
            assert await page.locator("#events li:visible").count() == 1
            serious = await _axe_serious(browser, page, url)
            await browser.close()
    assert serious == {}  # axe-core: no serious or critical violation on any console page
    assert problems == []  # a CSP violation or script error would be reported here
