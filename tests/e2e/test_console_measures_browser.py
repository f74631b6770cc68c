"""The measures page in Chromium against a real uvicorn holding the hand-built measure cohort:
the demo commissioner signs in, changes the quarter with the keyboard only; axe, 640px wide,
no CSP error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.measure_cohort import cohort
from tests.api.test_wishes_html import BROWSER_ARGS, CHROMIUM, _browser_or_skip
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

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]

USER = "demo-user-commissioner"
# deaths-in-hospital in 2026-Q3, worked out in tests/api/measure_cohort.py
PRACTICES_Q3 = [["A0001", "5", "5", "1", "20.0%"], ["B0002", "3", "3", "1", "33.3%"]]


@pytest.fixture
def measures_server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    yield from demo_server(migrated_url, tmp_path)


async def _load_cohort(server: ServerProcess, tmp_path: Path) -> None:
    """The cohort in one transaction, written by the demo GP system over HTTP."""
    entries = [{"resource": r, "request": {"method": "PUT",
                                           "url": f"{r['resourceType']}/{r['id']}"}}
               for r in cohort()]
    async with await demo_gp(server, tmp_path) as gp:
        loaded = await gp.post("/", json={"resourceType": "Bundle", "type": "transaction",
                                          "entry": entries})
    assert loaded.status_code == 200, loaded.text


async def test_the_commissioner_reads_the_measures_with_the_keyboard(
        measures_server: ServerProcess, tmp_path: Path) -> None:
    url = measures_server.url
    await _load_cohort(measures_server, tmp_path)
    start = f"{url}/console/measures?measure=deaths-in-hospital&quarter=2026-Q4"
    async with _browser_or_skip()() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 1000, "height": 900})
        problems = watched(page)
        await page.goto(start)
        await sign_in(page, USER, start)
        assert await page.input_value("#quarter") == "2026-Q4"
        assert await page.locator("figure.chart svg[role=img]").count() >= 2
        await tab_to(page, "quarter")
        await page.keyboard.press("ArrowDown")  # newest first: the quarter before
        await tab_to(page, "show")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"quarter=2026-Q3"))
        assert await page.input_value("#quarter") == "2026-Q3"
        caption = await page.inner_text("#group0-practice-table caption")
        assert caption.endswith("2026 Q3")
        rows = page.locator("#group0-practice-table tbody tr")
        assert [(await rows.nth(n).inner_text()).split("\t") for n in range(2)] == PRACTICES_Q3
        assert "Patient/" not in await page.content()
        await shot(page, "measures")
        await page.set_viewport_size({"width": 640, "height": 900})  # 1280px at 200% zoom
        wide = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth")
        serious = await axe_serious(browser, page)
        await browser.close()
    assert not wide  # no horizontal scroll at 200% zoom
    assert serious == []  # axe-core: no serious or critical violation
    assert problems == []  # a CSP violation or script error would be reported here
