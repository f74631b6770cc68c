"""The console's measures page (/console/measures) over the hand-built measure cohort: the
numbers on the page are $evaluate-measure's, the commissioner sees no one, refusals show."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Iterator
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from eolc_fhir.config import Settings
from eolc_fhir.web.measures import Quarter, recent_quarters
from tests.api.measure_cohort import cohort
from tests.api.module_app import engine_name, module_database
from tests.api.test_console import BASE, _browser, _sign_in
from tests.console_support import add_console_and_people, system_headers
from tests.security_support import SecureApp, secure_app

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")

USERS = {"commish": ("commissioner", "CCG01"), "nurse": ("coordination-centre", "CC001"),
         "crew": ("ambulance", "RYC01")}
PAGE = "/console/measures"
Q3 = {"measure": "deaths-in-hospital", "quarter": "2026-Q3"}


@pytest.fixture(scope="module")
def measures_url(engine_name: str, request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "console_measures")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure(measures_url: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[SecureApp]:
    settings = Settings(database_url=measures_url, base_url=BASE,
                        demo_keys_dir=Path(tmp_path_factory.mktemp("keys")))
    async with secure_app(settings) as app:
        await add_console_and_people(app, USERS)
        entries = [{"resource": r, "request": {"method": "PUT",
                                               "url": f"{r['resourceType']}/{r['id']}"}}
                   for r in cohort()]
        loaded = await app.http.post("/", headers=await _headers(app, "gp"), json={
            "resourceType": "Bundle", "type": "transaction", "entry": entries})
        assert loaded.status_code == 200, loaded.text  # the cohort, written by a GP system
        yield app


async def _headers(app: SecureApp, role: str, client_id: str | None = None
                   ) -> dict[str, str]:
    return await system_headers(app, client_id or f"measures-{role}", role)


class _Tables(HTMLParser):
    """Every table of a page: its caption and its rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._id = ""
        self._cell: list[str] | None = None
        self._in_caption = False
        self.captions: dict[str, str] = {}
        self.scopes: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._id = str(found.get("id"))
            self.tables[self._id] = []
        elif tag == "tr":
            self.tables[self._id].append([])
        elif tag in ("td", "th"):
            self._cell = []
            if tag == "th":
                self.scopes.append(found.get("scope"))
        elif tag == "caption":
            self._in_caption = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[self._id][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "caption":
            self._in_caption = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        elif self._in_caption:
            self.captions[self._id] = self.captions.get(self._id, "") + data


def _tables(html: str) -> _Tables:
    parser = _Tables()
    parser.feed(html)
    return parser


def _expected_rows(report: dict[str, Any], label: str) -> list[str]:
    """A table row as the page should show it, worked out from the API's report."""
    group = report["group"][0]
    counts = [str(p["count"]) for p in group["population"]]
    score = group.get("measureScore", {}).get("value")
    return [label, *counts, "no one counted" if score is None else f"{score * 100:.1f}%"]


@pytest.mark.engines("sqlite", "postgresql")
async def test_the_page_shows_what_evaluate_measure_answers(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "commish", PAGE)
        page = await browser.get(PAGE, params=Q3)
    assert page.status_code == 200, page.text
    found = _tables(page.text)
    trend = found.tables["group0-trend-table"]
    assert trend[0] == ["Quarter", "Initial population", "Denominator", "Numerator", "Score"]
    quarters = [Quarter(2026, 3).back(n) for n in range(7, -1, -1)]
    commissioner = await _headers(secure, "commissioner")
    for quarter, row in zip(quarters, trend[1:], strict=True):
        answer = await secure.http.get("/Measure/deaths-in-hospital/$evaluate-measure",
                                       params=quarter.period(), headers=commissioner)
        assert answer.status_code == 200, answer.text
        assert row == _expected_rows(answer.json(), quarter.label)
    # worked out by hand from the cohort (tests/api/measure_cohort.py)
    assert trend[-2] == ["2026 Q2", "1", "1", "1", "100.0%"]
    assert trend[-1] == ["2026 Q3", "8", "8", "2", "25.0%"]
    assert found.tables["group0-practice-table"][1:] == [
        ["A0001", "5", "5", "1", "20.0%"], ["B0002", "3", "3", "1", "33.3%"]]
    assert set(found.scopes) == {"col", "row"}
    assert found.captions["group0-trend-table"].endswith("per quarter, 2024 Q4 to 2026 Q3")
    assert page.text.count('<svg viewBox="0 0 640') == 2
    assert page.text.count('class="chart-bar') == 8 + 2
    assert page.headers["server-timing"].startswith("measures;dur=")


@pytest.mark.engines("sqlite")
async def test_a_continuous_measure_is_charted_in_days(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse", PAGE)
        page = await browser.get(PAGE, params={**Q3, "measure": "identified-before-death"})
    assert page.status_code == 200, page.text
    found = _tables(page.text)
    assert found.tables["group0-trend-table"][-1][-1] == "75.0%"  # 6 of the 8 deaths
    days = found.tables["group1-trend-table"]
    assert days[0][-2:] == ["Observations", "Score"]
    # d1 188, d2 60, d4 231, d6 10, d10 283, d11 1 days on the register: median 124
    assert days[-1][-1] == "124 days"
    assert "Median days on the register" in page.text


@pytest.mark.engines("sqlite")
async def test_the_commissioner_sees_no_patient_level_data(secure: SecureApp) -> None:
    people = [r for r in cohort() if r["resourceType"] == "Patient"]
    async with _browser(secure) as browser:
        await _sign_in(browser, "commish", PAGE)
        for measure in ("deaths-in-hospital", "preferred-place-achieved",
                        "cpr-decision-in-date"):
            page = await browser.get(PAGE, params={**Q3, "measure": measure})
            assert page.status_code == 200, page.text
            assert "Patient/" not in page.text and "/console/patient" not in page.text
            assert "Hughes" not in page.text and "Margaret" not in page.text
            for person in people:
                assert person["identifier"][0]["value"] not in page.text
                assert f'"{person["id"]}"' not in page.text


@pytest.mark.engines("sqlite")
async def test_every_evaluation_is_audited_with_the_person(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse", PAGE)
        page = await browser.get(PAGE, params={**Q3, "measure": "acp-before-death"})
    assert page.status_code == 200, page.text
    admin = await _headers(secure, "admin")
    events = (await secure.http.get("/AuditEvent", params={"_count": "1000"},
                                    headers=admin)).json()["entry"]
    periods = []
    for event in (e["resource"] for e in events):
        entities = event.get("entity") or []
        whats = {x["what"].get("reference") for x in entities if "what" in x}
        if whats != {"Measure/acp-before-death"}:
            continue
        assert "nurse" in str(event["agent"])  # the person, not only the console app
        query = next(x["query"] for x in entities if "query" in x)
        periods.append(base64.b64decode(query).decode())
    assert len(periods) == 8
    assert "periodStart=2026-07-01&periodEnd=2026-09-30" in periods


@pytest.mark.engines("sqlite")
async def test_a_role_the_api_refuses_gets_the_refusal_page(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "crew", PAGE)
        page = await browser.get(PAGE, params=Q3)
    assert page.status_code == 403, page.text
    assert "Not shown (403)" in page.text and "<svg" not in page.text


@pytest.mark.engines("sqlite")
async def test_the_form_is_labelled_and_refuses_what_it_does_not_offer(
        secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "commish", PAGE)
        first = await browser.get(PAGE)
        unknown = await browser.get(PAGE, params={**Q3, "measure": "no-such"})
        future = await browser.get(PAGE, params={**Q3, "quarter": "2999-Q1"})
        garbled = await browser.get(PAGE, params={**Q3, "quarter": "<b>"})
        bookmarked = await browser.get(PAGE, params={**Q3, "quarter": "2019-Q1"})
        css = await browser.get("/console/static/measures.css")
    assert first.status_code == 200, first.text
    assert '<label for="measure">' in first.text and '<label for="quarter">' in first.text
    last_ended = recent_quarters(date.today(), 2)[1]
    assert f'<option value="{last_ended.key}" selected>' in first.text
    assert 'href="/console/measures"' in first.text  # in the console's navigation
    for refused in (unknown, future, garbled):
        assert refused.status_code == 400 and 'role="alert"' in refused.text
    assert "<b>" not in garbled.text
    assert bookmarked.status_code == 200  # an older quarter is offered, and the one before
    assert '<option value="2019-Q1" selected>' in bookmarked.text
    assert bookmarked.text.index('"2019-Q1"') < bookmarked.text.index('"2018-Q4"')
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert "style=" not in first.text and "<script" not in first.text

