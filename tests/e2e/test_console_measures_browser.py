"""The measures page in Chromium against a real uvicorn holding the hand-built measure cohort:
the demo commissioner signs in, changes the quarter with the keyboard only; axe, 640px wide,
no CSP error."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.security.demo import demo_password
from tests.api.measure_cohort import cohort
from tests.api.test_wishes_html import BROWSER_ARGS, CHROMIUM, _browser_or_skip
from tests.e2e.conftest import ServerProcess, start_server
from tests.e2e.test_console_browser import _gp

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]

USER = "demo-user-commissioner"
# deaths-in-hospital in 2026-Q3, worked out in tests/api/measure_cohort.py
PRACTICES_Q3 = [["A0001", "5", "5", "1", "20.0%"], ["B0002", "3", "3", "1", "33.3%"]]


@pytest.fixture
def measures_server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(tmp_path / "keys"),
           "EOLC_RATE_LIMIT_PER_MINUTE": "0"}
    proc = start_server(migrated_url, tmp_path, env=env)
    try:
        yield proc
    finally:
        proc.stop()


async def _load_cohort(server: ServerProcess, tmp_path: Path) -> None:
    """The cohort in one transaction, written by the demo GP system over HTTP."""
    entries = [{"resource": r, "request": {"method": "PUT",
                                           "url": f"{r['resourceType']}/{r['id']}"}}
               for r in cohort()]
    async with await _gp(server, tmp_path) as gp:
        loaded = await gp.post("/", json={"resourceType": "Bundle", "type": "transaction",
                                          "entry": entries})
    assert loaded.status_code == 200, loaded.text


async def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("EOLC_SCREENSHOT_DIR")
    if folder:
        await page.screenshot(path=str(Path(folder) / f"console-{name}.png"), full_page=True)


async def _tab_to(page: Any, element_id: str) -> None:
    """Press Tab from the top of the page until ``element_id`` has the focus."""
    for _ in range(30):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


async def _axe_serious(browser: Any, page: Any) -> list[str]:
    """axe-core's serious and critical violations (axe is injected, so this second context,
    with the first's cookies, bypasses the CSP for the check alone)."""
    from axe_playwright_python.async_playwright import Axe

    context = await browser.new_context(bypass_csp=True,
                                        storage_state=await page.context.storage_state())
    checked = await context.new_page()
    await checked.goto(page.url)
    assert checked.url == page.url  # the session came along: not the sign-in page
    results = await Axe().run(checked)
    await context.close()
    return [v["id"] for v in results.response["violations"]
            if v.get("impact") in ("serious", "critical")]


async def test_the_commissioner_reads_the_measures_with_the_keyboard(
        measures_server: ServerProcess, tmp_path: Path) -> None:
    url = measures_server.url
    await _load_cohort(measures_server, tmp_path)
    start = f"{url}/console/measures?measure=deaths-in-hospital&quarter=2026-Q4"
    async with _browser_or_skip()() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 1000, "height": 900})
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text))
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(start)
        await page.fill("#username", USER)
        await page.fill("#password", demo_password(USER))
        await page.click("button[type=submit]")
        await page.wait_for_url(start)
        assert await page.input_value("#quarter") == "2026-Q4"
        assert await page.locator("figure.chart svg[role=img]").count() >= 2
        await _tab_to(page, "quarter")
        await page.keyboard.press("ArrowDown")  # newest first: the quarter before
        await _tab_to(page, "show")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"quarter=2026-Q3"))
        assert await page.input_value("#quarter") == "2026-Q3"
        caption = await page.inner_text("#group0-practice-table caption")
        assert caption.endswith("2026 Q3")
        rows = page.locator("#group0-practice-table tbody tr")
        assert [(await rows.nth(n).inner_text()).split("\t") for n in range(2)] == PRACTICES_Q3
        assert "Patient/" not in await page.content()
        await _shot(page, "measures")
        await page.set_viewport_size({"width": 640, "height": 900})  # 1280px at 200% zoom
        wide = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth")
        serious = await _axe_serious(browser, page)
        await browser.close()
    assert not wide  # no horizontal scroll at 200% zoom
    assert serious == []  # axe-core: no serious or critical violation
    assert problems == []  # a CSP violation or script error would be reported here
