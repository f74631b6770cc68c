"""The measures page in Chromium against a real uvicorn and a small demo region: the demo
commissioner signs in, changes the quarter with the keyboard only; axe, 640px, no CSP error."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.config import Settings
from eolc_fhir.demo.loader import load_region
from eolc_fhir.security.demo import demo_password
from eolc_fhir.services.startup import build_context, close_context
from tests.api.test_wishes_html import BROWSER_ARGS, CHROMIUM, _browser_or_skip
from tests.e2e.conftest import ServerProcess, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]

USER = "demo-user-commissioner"
PATIENTS = 120  # about 40 deaths over two years: a few per quarter and practice


@pytest.fixture
def measures_server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"EOLC_DEMO_CLIENTS": "1", "EOLC_DEMO_KEYS_DIR": str(tmp_path / "keys"),
           "EOLC_RATE_LIMIT_PER_MINUTE": "0"}
    proc = start_server(migrated_url, tmp_path, env=env)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
async def demo_region(migrated_url: str) -> None:
    """A small synthetic region (deaths over the last two years), loaded in-process."""
    ctx = await build_context(Settings(database_url=migrated_url, insecure_dev=True))
    try:
        await load_region(ctx, patients=PATIENTS, seed=3)
    finally:
        await close_context(ctx)


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
        demo_region: None, measures_server: ServerProcess) -> None:
    url = measures_server.url
    async with _browser_or_skip()() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 1000, "height": 900})
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text))
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.goto(f"{url}/console/measures")
        await page.fill("#username", USER)
        await page.fill("#password", demo_password(USER))
        await page.click("button[type=submit]")
        await page.wait_for_url(f"{url}/console/measures")
        before = await page.input_value("#quarter")
        assert await page.locator("figure.chart svg[role=img]").count() >= 2
        await _tab_to(page, "quarter")
        await page.keyboard.press("ArrowDown")  # newest first: the quarter before
        await _tab_to(page, "show")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"quarter=\d{4}-Q\d"))
        after = await page.input_value("#quarter")
        assert after != before and f"quarter={after}" in page.url
        label = after.replace("-", " ")
        caption = await page.inner_text("#group0-practice-table caption")
        assert caption.endswith(label)
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
