"""The console's register page in Chromium against a real uvicorn (auth on, demo people):
filters used with the keyboard only, the next page, axe-core, and 640px without scrolling
sideways (a 1280px screen at 200% zoom)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.demo.people import NhsNumbers
from eolc_fhir.demo.vocabulary import FAMILY
from eolc_fhir.demo.vocabulary import PROGNOSIS as PROGNOSES
from eolc_fhir.security.demo import demo_password
from tests.api.test_wishes_html import BROWSER_ARGS, CHROMIUM, _browser_or_skip
from tests.builders import (
    BASE,
    SCT,
    make_care_plan,
    make_cpr_flag,
    make_preferred_place,
    make_register_flag,
)
from tests.builders_basic import patient
from tests.e2e.conftest import ServerProcess
from tests.e2e.console_support import (
    axe_serious,
    demo_gp,
    demo_server,
    shot,
    tab_to,
    tab_until,
    watched,
)
from tests.e2e.test_console_browser import USER

pytestmark = [pytest.mark.e2e, pytest.mark.engines("sqlite")]

PEOPLE = 14  # 3 with a plan, 2 with a first-choice place: 11 with neither (two pages of 10)


@pytest.fixture
def register_server(migrated_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    yield from demo_server(migrated_url, tmp_path)


def _prognosis(i: int) -> list[dict[str, Any]]:
    code, display = PROGNOSES[i % len(PROGNOSES)]
    return [{"url": f"{BASE}/StructureDefinition/eolc-prognosis",
             "valueCodeableConcept": {"coding": [{"system": SCT, "code": code,
                                                  "display": display}]}}]


def _cohort() -> list[dict[str, Any]]:
    numbers = NhsNumbers(7)
    out: list[dict[str, Any]] = []
    for i in range(PEOPLE):
        pid, of = f"reg-{i:02d}", {"reference": f"Patient/reg-{i:02d}"}
        out.append(patient(id=pid, nhs=numbers.for_person(i), birthDate=f"19{30 + i}-05-17",
                           name=[{"family": FAMILY[i % len(FAMILY)], "given": ["Sam"]}]))
        out.append(make_register_flag(id=f"reg-flag-{i:02d}", subject=of,
                                      extension=_prognosis(i)))
        if i % 3 == 0:  # a CPR decision; every second one past its review date
            review = (date.today() + timedelta(days=-5 if i % 2 else 90)).isoformat()
            out.append(make_cpr_flag(id=f"reg-cpr-{i:02d}", subject=of,
                                     period={"start": "2026-06-01", "end": review}))
        if i < 3:
            out.append(make_care_plan(id=f"reg-acp-{i:02d}", subject=of))
        if i < 2:
            out.append(make_preferred_place(id=f"reg-ppd-{i:02d}", subject=of))
    return out


async def test_filter_and_page_the_register_with_the_keyboard(
        register_server: ServerProcess, tmp_path: Path) -> None:
    url = register_server.url
    async with await demo_gp(register_server, tmp_path) as gp:
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": r, "request": {"method": "PUT",
                                        "url": f"{r['resourceType']}/{r['id']}"}}
            for r in _cohort()]}
        loaded = await gp.post("/", json=bundle)
        assert loaded.status_code == 200, loaded.text
    async with _browser_or_skip()() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        problems = watched(page)
        await page.goto(f"{url}/console/register")
        await page.fill("#username", USER)
        await page.fill("#password", demo_password(USER))
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{url}/console/register")
        assert await page.locator("table.register tbody tr").count() == PEOPLE
        await shot(page, "register")
        await tab_to(page, "practice", limit=80)
        await page.keyboard.press("Tab")  # prognosis
        await page.keyboard.press("Tab")  # advance care plan
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("ArrowDown")  # "no plan"
        for _ in range(3):  # CPR decision, plan review overdue, no place
            await page.keyboard.press("Tab")
        await page.keyboard.press("Space")
        await page.keyboard.press("Tab")  # rows per page
        await page.keyboard.press("ArrowUp")  # 10
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Show"
        await page.keyboard.press("Enter")
        await page.wait_for_url("**/console/register?*plan=no*noplace=1*")
        first = await page.locator("table.register tbody tr").count()
        assert first == 10 and await page.input_value("#plan") == "no"
        assert await page.is_checked("#noplace")
        await tab_until(page, "el.textContent === 'Next page'", limit=80)
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none"  # focus is visible
        await page.keyboard.press("Enter")
        await page.wait_for_url("**page=*")
        assert await page.locator("table.register tbody tr").count() == 1
        assert await page.locator("a[rel=prev]").count() == 1
        serious = await axe_serious(browser, page)
        await page.set_viewport_size({"width": 640, "height": 900})
        await page.goto(f"{url}/console/register")
        await asyncio.sleep(0.1)
        sideways = await page.evaluate(
            "document.documentElement.scrollWidth > document.documentElement.clientWidth")
        await browser.close()
    assert serious == []  # axe-core: no serious or critical violation
    assert not sideways  # 640px wide (1280px at 200%): no horizontal scroll
    assert problems == []  # a CSP violation or script error would be reported here
