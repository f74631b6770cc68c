"""The console's register page (/console/register): rows, filters, the server's paging,
patient text as text, a GP's own practice by default, a commissioner's 403; httpx on one app."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from eolc_fhir.api import console_register
from eolc_fhir.config import Settings
from tests.api.module_app import engine_name, module_database
from tests.api.test_console import BASE, _browser, _gp_headers, _sign_in
from tests.builders import (
    BASE as FHIR_BASE,
)
from tests.builders import (
    PLACE_TYPE,
    SCT,
    make_care_plan,
    make_cpr_flag,
    make_preferred_place,
    make_register_flag,
)
from tests.builders_basic import patient
from tests.console_support import add_console_and_people
from tests.security_support import SecureApp, secure_app

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
HOSTILE = "<script>alert(1)</script>"
PLACE = "Home <img src=x onerror=alert(2)>"
USERS = {"nurse": ("coordination-centre", "CC001"), "gpa": ("gp", "A1111"),
         "commish": ("commissioner", "CCG01")}
TODAY = date.today()


def _of(pid: str) -> dict[str, str]:
    return {"reference": f"Patient/{pid}"}


def _day(days: int) -> str:
    return (TODAY + timedelta(days=days)).isoformat()


def cohort() -> list[dict[str, Any]]:
    """Three people on the register (two practices) and one whose entry is inactive."""
    a, b = {"reference": "Organization/org-a"}, {"reference": "Organization/org-b"}
    weeks = [{"url": f"{FHIR_BASE}/StructureDefinition/eolc-prognosis",
              "valueCodeableConcept": {"coding": [{"system": SCT, "code": "955231000000109",
                                                   "display": "Last weeks of life"}]}}]
    overdue = [{"url": f"{FHIR_BASE}/StructureDefinition/eolc-review-date",
                "valueDate": _day(-2)}]
    return [
        {"resourceType": "Organization", "id": "org-a", "name": "Riverside Surgery",
         "identifier": [{"system": ODS, "value": "A1111"}]},
        {"resourceType": "Organization", "id": "org-b", "name": "Hillside Surgery",
         "identifier": [{"system": ODS, "value": "B2222"}]},
        patient(id="rp1", generalPractitioner=[a], nhs="9912003888",
                name=[{"family": HOSTILE, "given": ["Ann"]}]),
        patient(id="rp2", generalPractitioner=[b], nhs="9658220142",
                name=[{"family": "Bell", "given": ["Bob"]}]),
        patient(id="rp3", generalPractitioner=[a], nhs="9999999468",
                name=[{"family": "Cole", "given": ["Cat"]}]),
        patient(id="rp4", generalPractitioner=[a], nhs="9000000009",
                name=[{"family": "Dunn", "given": ["Dee"]}]),
        make_register_flag(id="rr1", subject=_of("rp1"), author=a, extension=weeks),
        make_register_flag(id="rr2", subject=_of("rp2"), author=b),
        make_register_flag(id="rr3", subject=_of("rp3"), author=a),
        make_register_flag(id="rr4", subject=_of("rp4"), author=a, status="inactive"),
        make_care_plan(id="racp1", subject=_of("rp1")),
        make_care_plan(id="racp2", subject=_of("rp2"), extension=overdue),
        make_cpr_flag(id="rcpr1", subject=_of("rp1")),
        make_cpr_flag(id="rcpr2", subject=_of("rp2"), period={"start": _day(-90),
                                                              "end": _day(-1)}),
        make_preferred_place(id="rppd1", subject=_of("rp1"),
                             valueCodeableConcept={"coding": [{"system": PLACE_TYPE,
                                                               "code": "21"}], "text": PLACE}),
    ]


@pytest.fixture(scope="module")
def register_url(engine_name: str, request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "console_register")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure(register_url: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[SecureApp]:
    settings = Settings(database_url=register_url, base_url=BASE,
                        demo_keys_dir=Path(tmp_path_factory.mktemp("keys")))
    async with secure_app(settings) as app:
        await add_console_and_people(app, USERS)
        gp = await _gp_headers(app)
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in cohort()]}
        loaded = await app.http.post("/", headers=gp, content=orjson.dumps(bundle))
        assert loaded.status_code == 200, loaded.text
        yield app


def _people(html: str) -> list[str]:
    """The patient ids the page's rows link to, in order."""
    return re.findall(r'href="/console/patient/([^"]+)"', html)


@pytest.mark.engines("sqlite", "postgresql")
async def test_the_register_shows_one_row_per_person(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse", "/console/register")
        page = await browser.get("/console/register")
    assert page.status_code == 200, page.text
    html = page.text
    assert sorted(_people(html)) == ["rp1", "rp2", "rp3"]  # rp4's entry is inactive
    assert 'href="/console/register"' in html and "<th scope=\"col\">CPR decision</th>" in html
    row2 = html[html.index('href="/console/patient/rp2"'):]
    row2 = row2[:row2.index("</tr>")]
    assert "9658220142" in row2 and "B2222 Hillside Surgery" in row2
    assert "(overdue)" in row2 and "past review" in row2 and "None recorded" in row2
    assert "Last weeks of life" in html and "A1111 Riverside Surgery" in html
    # patient text is text: escaped, never markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html
    assert "Home &lt;img src=x onerror=alert(2)&gt;" in html and "<img" not in html


@pytest.mark.engines("sqlite")  # the parameters themselves: test_search_register_params
async def test_the_filters_are_the_apis_search_parameters(secure: SecureApp) -> None:
    cases = {
        (("practice", "A1111"),): ["rp1", "rp3"],
        (("prognosis", "955231000000109"),): ["rp1"],
        (("plan", "yes"),): ["rp1", "rp2"],
        (("plan", "no"),): ["rp3"],
        (("cpr", "yes"),): ["rp1"],
        (("cpr", "no"),): ["rp2", "rp3"],
        (("overdue", "1"),): ["rp2"],
        (("noplace", "1"),): ["rp2", "rp3"],
        (("practice", "A1111"), ("noplace", "1")): ["rp3"],
    }
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse", "/console/register")
        for params, expected in cases.items():
            page = await browser.get("/console/register", params=dict(params))
            assert page.status_code == 200, (params, page.text)
            assert sorted(_people(page.text)) == expected, params
        wrong = await browser.get("/console/register", params={"practice": "A1 11'"})
        assert wrong.status_code == 400 and "ODS code" in wrong.text
        odd = await browser.get("/console/register", params={"prognosis": "1"})
    assert odd.status_code == 400 and _people(odd.text) == []


@pytest.mark.engines("sqlite")
async def test_pages_follow_the_servers_own_links(secure: SecureApp,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_register, "PAGE_SIZE", 2)
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse", "/console/register")
        first = await browser.get("/console/register")
        nxt = unescape(re.findall(r'<a href="([^"]+)" rel="next"', first.text)[0])
        assert "page=" in nxt and "_cursor" in nxt  # the server's link, not an offset
        second = await browser.get(nxt)
        assert 'rel="next"' not in second.text
        back = unescape(re.findall(r'<a href="([^"]+)" rel="prev"', second.text)[0])
        again = await browser.get(back)
    assert len(_people(first.text)) == 2 and len(_people(second.text)) == 1
    assert sorted(_people(first.text) + _people(second.text)) == ["rp1", "rp2", "rp3"]
    assert _people(again.text) == _people(first.text)
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse", "/console/register")
        odd = await browser.get("/console/register", params={"page": "_format=xml"})
    assert odd.status_code == 400 and "not lead to a page" in odd.text


@pytest.mark.engines("sqlite")
async def test_a_gp_starts_at_their_practice_and_a_commissioner_is_refused(
        secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "gpa", "/console/register")
        own = await browser.get("/console/register")
        every = await browser.get("/console/register", params={"practice": ""})
    assert 'value="A1111"' in own.text and sorted(_people(own.text)) == ["rp1", "rp3"]
    # Emptying the filter shows no more: the API shows a GP person their practice's people only
    assert sorted(_people(every.text)) == ["rp1", "rp3"]
    async with _browser(secure) as browser:
        await _sign_in(browser, "commish", "/console/register")
        refused = await browser.get("/console/register")
    assert refused.status_code == 403 and "Not shown (403)" in refused.text
    assert _people(refused.text) == [] and "Bell" not in refused.text
