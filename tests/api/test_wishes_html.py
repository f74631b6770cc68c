"""Patient/$wishes as a printable HTML page: negotiation, order, escaping, CSP, roles, audit."""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.api.module_app import engine_name, module_client, module_database
from tests.builders import (
    NHS_NUMBER_SYSTEM,
    VALID_NHS_NUMBERS,
    make_care_plan,
    make_cpr_flag,
    make_episode,
    make_lpa,
    make_patient,
    make_respect_form,
)
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["engine_name", "secure", "secure_settings"]

pytestmark = pytest.mark.asyncio(loop_scope="module")

PID = "eolc-patient-1"
QUERY = {"identifier": f"{NHS_NUMBER_SYSTEM}|{VALID_NHS_NUMBERS[0]}"}
HTML = "text/html"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HOSTILE = "Wants <script>alert(1)</script> and <img src=x onerror=alert(2)> at home"


def _record() -> list[dict[str, Any]]:
    centre = {"resourceType": "Organization", "id": "coordination-centre",
              "name": "Coordination Centre",
              "telecom": [{"system": "phone", "value": "0300 555 0199"}]}
    return [make_patient(id=PID), centre, {**make_cpr_flag(), "id": "cpr-1"},
            {**make_respect_form(), "id": "respect-1"}, {**make_lpa(), "id": "lpa-1"},
            {**make_care_plan(note=[{"text": HOSTILE}]), "id": "acp-1"},
            {**make_episode(), "id": "episode-1"},
            make_patient(id="died-1", identifier=[{**make_patient()["identifier"][0],
                                                   "value": VALID_NHS_NUMBERS[1]}],
                         name=[{"family": "Okoro", "given": ["Ada"]}],
                         deceasedDateTime="2026-11-02T04:10:00Z")]


@pytest.fixture(scope="module")
def html_url(engine_name: str, request: pytest.FixtureRequest,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "wishes_html")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(html_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with module_client(html_url, _record(), run_dispatcher=False) as http:
        yield http


def _page(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.text


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize("how", ["accept", "browser", "format", "instance"])
async def test_the_summary_is_an_html_page(client: httpx.AsyncClient, how: str) -> None:
    path, params, headers = "/Patient/$wishes", dict(QUERY), {}
    if how == "accept":
        headers["Accept"] = HTML
    elif how == "browser":
        headers["Accept"] = BROWSER  # ranks HTML above application/xml: HTML, not XML
    elif how == "format":
        params["_format"] = "html"
    else:
        path, params, headers = f"/Patient/{PID}/$wishes", {"_format": "text/html"}, {}
    page = _page(await client.get(path, params=params, headers=headers))
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Margaret Hughes, NHS number 991 200 3888" in page
    assert "14 March 1941" in page
    assert "0300 555 0199" in page  # the 24/7 contact
    assert "NOT FOR ATTEMPTED CPR (DNACPR)" in page


@pytest.mark.engines("sqlite")
async def test_cpr_and_warnings_come_before_everything_else(client: httpx.AsyncClient) -> None:
    page = _page(await client.get("/Patient/$wishes", params=QUERY, headers={"Accept": HTML}))
    order = [page.index(marker) for marker in (
        'id="summary-name"', 'id="cpr"', 'id="warnings"', "No first-choice preferred place",
        "ReSPECT recommendations", "Lasting power of attorney", "Preferred places of care",
        "24/7 contact and key worker", "What matters to me")]
    assert order == sorted(order)
    body = page[page.index("<body>"):]
    assert body.index("CPR: NOT FOR ATTEMPTED CPR") < body.index("<h2 id=\"section-")


@pytest.mark.engines("sqlite")
async def test_a_death_is_marked_before_anything_else(client: httpx.AsyncClient) -> None:
    page = _page(await client.get("/Patient/died-1/$wishes", params={"_format": "html"}))
    assert "<title>DECEASED: Ada Okoro" in page
    body = page[page.index("<body>"):]
    assert body.index("DECEASED: This person died 2026-11-02 04:10 UTC") \
        < body.index("Ada Okoro") \
        < body.index('id="cpr"')
    alive = _page(await client.get("/Patient/$wishes", params=QUERY, headers={"Accept": HTML}))
    assert "DECEASED" not in alive


@pytest.mark.engines("sqlite")
async def test_patient_text_is_shown_as_text(client: httpx.AsyncClient) -> None:
    page = _page(await client.get("/Patient/$wishes", params=QUERY, headers={"Accept": HTML}))
    assert "Wants &lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x onerror=alert(2)&gt;" \
        in page
    assert "<script" not in page.lower() and "<img" not in page.lower()
    # Only the tags the templates write appear in the page.
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", page))
    assert tags <= {"html", "head", "meta", "title", "style", "body", "main", "article",
                    "header", "h1", "h2", "dl", "div", "dt", "dd", "section", "p", "strong",
                    "ul", "li", "span", "footer"}


@pytest.mark.engines("sqlite")
async def test_the_page_has_a_strict_content_security_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/Patient/$wishes", params=QUERY, headers={"Accept": HTML})
    csp = response.headers["content-security-policy"]
    assert csp.startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["vary"] == "Accept"
    assert response.headers["x-content-type-options"] == "nosniff"
    # The one inline stylesheet is the one the hash allows.
    style = re.search(r"<style>(.*?)</style>", response.text, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp


@pytest.mark.engines("sqlite")
async def test_html_is_for_wishes_only_and_json_is_unchanged(client: httpx.AsyncClient) -> None:
    for path in (f"/Patient/{PID}", f"/Patient/{PID}/$everything", "/CarePlan"):
        assert (await client.get(path, headers={"Accept": HTML})).status_code == 406
        assert (await client.get(path, params={"_format": "html"})).status_code == 406
    plain = await client.get("/Patient/$wishes", params=QUERY)
    assert plain.headers["content-type"].startswith("application/fhir+json")
    assert plain.headers["vary"] == "Accept"  # the same ETag names both forms
    assert plain.json()["type"] == "document"
    xml = await client.get("/Patient/$wishes", params=QUERY,
                           headers={"Accept": "application/fhir+xml, text/html;q=0.5"})
    assert xml.headers["content-type"].startswith("application/fhir+xml")


@pytest.mark.engines("sqlite")
async def test_errors_are_small_html_pages_and_revalidation_works(
        client: httpx.AsyncClient) -> None:
    unknown = await client.get("/Patient/$wishes", headers={"Accept": HTML},
                               params={"identifier": f"{NHS_NUMBER_SYSTEM}|{VALID_NHS_NUMBERS[2]}"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "text/html; charset=utf-8"
    assert "no patient with this NHS number" in unknown.text
    bad = await client.get("/Patient/$wishes", params={"identifier": "<b>1</b>",
                                                       "_format": "html"})
    assert bad.status_code == 400 and "<b>" not in bad.text
    first = await client.get("/Patient/$wishes", params=QUERY, headers={"Accept": HTML})
    again = await client.get("/Patient/$wishes", params=QUERY,
                             headers={"Accept": HTML, "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


@pytest.mark.asyncio(loop_scope="function")
async def test_html_follows_the_roles_and_is_audited(secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    for resource in _record()[:1] + _record()[2:6]:  # what a GP may write
        response = await secure.http.put(f"/{resource['resourceType']}/{resource['id']}",
                                         json=resource, headers=gp)
        assert response.status_code in (200, 201), response.text
    ambulance = {**await secure.headers("ambulance"), "Accept": HTML}
    response = await secure.http.get("/Patient/$wishes", params=QUERY, headers=ambulance)
    assert "NOT FOR ATTEMPTED CPR" in _page(response)
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        [record] = await uow.audit.by_request([response.headers["x-request-id"]])
    assert (record.client_id, record.role, record.status) == ("test-ambulance", "ambulance", 200)
    assert record.patients == [PID]
    assert "CarePlan/acp-1/_history/1" in record.resources
    commissioner = {**await secure.headers("commissioner"), "Accept": HTML}
    refused = await secure.http.get("/Patient/$wishes", params=QUERY, headers=commissioner)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "text/html; charset=utf-8"
    assert "Margaret" not in refused.text and "NOT FOR" not in refused.text
    anonymous = await secure.http.get("/Patient/$wishes", params={**QUERY, "_format": "html"})
    assert anonymous.status_code == 401 and "Bearer" in anonymous.headers["www-authenticate"]


CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def _browser_or_skip() -> Any:
    """Playwright's async API, or a skip where Chromium is not installed (never on CI:
    .ci/run installs it, and a missing browser there is a failure)."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (/usr/bin/chromium): apt-get install chromium")
    from playwright.async_api import async_playwright
    return async_playwright


@pytest.mark.engines("sqlite")
async def test_the_page_in_a_real_browser(client: httpx.AsyncClient, tmp_path: Path) -> None:
    """Chromium shows the server's own answer (headers included): no CSP violation, no
    script run, the CPR status drawn above everything else."""
    answer = await client.get("/Patient/$wishes", params=QUERY, headers={"Accept": HTML})
    assert answer.status_code == 200
    async with _browser_or_skip()() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=BROWSER_ARGS)
        page = await browser.new_page(viewport={"width": 900, "height": 1200})
        problems: list[str] = []
        page.on("console", lambda message: problems.append(message.text))
        page.on("pageerror", lambda error: problems.append(str(error)))
        await page.route("http://eolc.test/**", lambda route: route.fulfill(
            status=200, headers=dict(answer.headers), body=answer.content))
        await page.goto("http://eolc.test/Patient/$wishes")
        assert problems == []  # a blocked style or script would be reported here
        assert await page.evaluate("typeof window.alert === 'function' && !document.scripts.length")
        text = await page.inner_text("body")
        assert "Wants <script>alert(1)</script> and <img src=x onerror=alert(2)>" in text
        tops = [(await page.locator(sel).first.bounding_box() or {}).get("y", -1.0)
                for sel in ("#cpr", "#warnings", ".section-respect", ".section-what-matters")]
        assert tops == sorted(tops) and tops[0] > 0
        await page.screenshot(path=str(Path(os.environ.get("EOLC_SCREENSHOT_DIR", tmp_path))
                                       / "wishes-summary.png"), full_page=True)
        await browser.close()
