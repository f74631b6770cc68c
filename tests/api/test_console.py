"""The console (/console/): sign-in through the SMART code flow as eolc-console, finding a
person, their summary and history, refusals by role, and sign-out; httpx on one app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
import pytest_asyncio

from eolc_fhir.config import Settings
from eolc_fhir.security.demo import CONSOLE_CLIENT
from eolc_fhir.security.ws_binding import read_binding
from tests.api.module_app import engine_name, module_database
from tests.builders import (
    VALID_NHS_NUMBERS,
    make_care_plan,
    make_cpr_flag,
    make_patient,
)
from tests.console_support import (
    PASSWORD,
    SignInForm,
    add_console_and_people,
    system_headers,
)
from tests.security_support import SecureApp, secure_app

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")

BASE = "http://127.0.0.1"
PID = "console-p1"
HOSTILE = "Wants <script>alert(1)</script> and <img src=x onerror=alert(2)> at home"
USERS = {"nurse": ("coordination-centre", "CC001"), "commish": ("commissioner", "CCG01")}


@pytest.fixture(scope="module")
def console_url(engine_name: str, request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "console")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure(console_url: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[SecureApp]:
    settings = Settings(database_url=console_url, base_url=BASE,
                        demo_keys_dir=Path(tmp_path_factory.mktemp("keys")))
    async with secure_app(settings) as app:
        await add_console_and_people(app, USERS)
        gp = await _gp_headers(app)
        for resource in (make_patient(id=PID), {**make_cpr_flag(), "id": "console-cpr"},
                         {**make_care_plan(note=[{"text": HOSTILE}]), "id": "console-acp"}):
            resource = _about(resource)
            put = await app.http.put(f"/{resource['resourceType']}/{resource['id']}",
                                     headers=gp, content=orjson.dumps(resource))
            assert put.status_code in (200, 201), put.text
        yield app


async def _gp_headers(app: SecureApp) -> dict[str, str]:
    return await system_headers(app, "test-gp", "gp")


def _about(resource: dict[str, object]) -> dict[str, object]:
    """The builders point at Patient/eolc-patient-1: point them at this module's person."""
    text = orjson.dumps(resource).replace(b"Patient/eolc-patient-1", f"Patient/{PID}".encode())
    return dict(orjson.loads(text))


def _browser(secure: SecureApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=secure.http._transport, base_url=BASE)


async def _sign_in(browser: httpx.AsyncClient, username: str, start: str = "/console/"
                   ) -> httpx.Response:
    """Open a console page unsigned, follow the code flow through the form; the callback's
    answer."""
    first = await browser.get(start)
    assert first.status_code == 303, first.text
    page = await browser.get(first.headers["location"])
    assert page.status_code == 200, page.text
    # under no-referrer a browser would post the form with "Origin: null" (refused)
    assert page.headers["referrer-policy"] == "same-origin"
    form = SignInForm()
    form.feed(page.text)
    fields = {**form.fields, "username": username, "password": PASSWORD}
    back = await browser.post("/auth/authorize", data=fields)
    assert back.status_code == 303, back.text
    assert back.headers["location"].startswith(f"{BASE}/console/callback?")
    return await browser.get(back.headers["location"])


@pytest.mark.engines("sqlite", "postgresql")
async def test_an_unsigned_visitor_is_sent_into_the_code_flow(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        answer = await browser.get("/console/patient/console-p1")
        assert answer.status_code == 303
        target = urlsplit(answer.headers["location"])
        query = {k: v[0] for k, v in parse_qs(target.query).items()}
        assert target.path == "/auth/authorize"
        assert query["client_id"] == CONSOLE_CLIENT and query["code_challenge_method"] == "S256"
        assert query["redirect_uri"] == f"{BASE}/console/callback"
        assert len(query["code_challenge"]) == 43 and len(query["state"]) >= 20
        flow = answer.headers["set-cookie"]
        assert "HttpOnly" in flow and "samesite=lax" in flow.lower()
        assert "Path=/console" in flow
        forged = await browser.get("/console/callback",
                                   params={"code": "x", "state": "not-the-one"})
        assert forged.status_code == 400 and "eolc_console=" not in \
            forged.headers.get("set-cookie", "")


@pytest.mark.engines("sqlite", "postgresql")
async def test_sign_in_find_by_nhs_number_and_see_the_summary(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        back = await _sign_in(browser, "nurse", "/console/?nhs=" + VALID_NHS_NUMBERS[0])
        assert back.status_code == 303
        assert back.headers["location"] == f"/console/?nhs={VALID_NHS_NUMBERS[0]}"
        session = back.headers["set-cookie"]
        assert "eolc_console=" in session and "HttpOnly" in session
        assert "samesite=strict" in session.lower() and "Max-Age=" in session
        found = await browser.get(back.headers["location"])
        assert found.status_code == 303
        assert found.headers["location"] == f"/console/patient/{PID}"
        page = await browser.get(found.headers["location"])
    assert page.status_code == 200, page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    html = page.text
    assert html.index('id="cpr"') < html.index('id="warnings"') < html.index("History of")
    assert "Signed in as nurse (coordination-centre)" in html
    assert "Wants &lt;script&gt;alert(1)&lt;/script&gt; and &lt;img src=x " \
           "onerror=alert(2)&gt;" in html
    assert "<script>" not in html and "<img" not in html
    assert html.count('<script src="/console/static/') == 0  # the summary page runs nothing
    assert f"Patient/{PID}" in html and "test-gp" in html and "Y01234" in html


@pytest.mark.engines("sqlite")
async def test_find_checks_the_nhs_number_and_finds_by_name(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        page = await browser.get("/console/")
        assert page.status_code == 200 and '<script src="/console/static/find.js">' in page.text
        wrong = await browser.get("/console/", params={"nhs": "9990000019"})
        assert wrong.status_code == 400 and "not an NHS number" in wrong.text
        named = await browser.get("/console/", params={"name": "Hughes",
                                                       "birthdate": "1941-03-14"})
        assert named.status_code == 200 and f'href="/console/patient/{PID}"' in named.text
        script = await browser.get("/console/static/find.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]


@pytest.mark.engines("sqlite")
async def test_a_commissioner_sees_no_patient_data(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "commish")
        found = await browser.get("/console/", params={"nhs": VALID_NHS_NUMBERS[0]})
        page = await browser.get(f"/console/patient/{PID}")
    assert found.status_code == 403 and "Margaret" not in found.text
    assert page.status_code == 403 and "Margaret" not in page.text
    assert "Hughes" not in page.text and "Not shown (403)" in page.text


@pytest.mark.engines("sqlite")
async def test_sign_out_ends_the_session(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        assert (await browser.get("/console/")).status_code == 200
        refused = await browser.post("/console/signout", headers={"Origin": "http://evil"})
        assert refused.status_code == 403
        out = await browser.post("/console/signout", headers={"Origin": BASE})
        assert out.status_code == 200 and "signed out" in out.text
        again = await browser.get("/console/")
    assert again.status_code == 303 and "/auth/authorize" in again.headers["location"]


@pytest.mark.engines("sqlite")
async def test_the_live_board_gets_a_binding_token_for_its_subscriptions(
        secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        page = await browser.get("/console/live")
        assert page.status_code == 200 and '<script src="/console/static/live.js">' in page.text
        assert "<option value=\"https://eolc.example.org/fhir/SubscriptionTopic/" in page.text
        forged = await browser.post("/console/live/token", headers={"Origin": "http://evil"})
        assert forged.status_code == 401
        first = await browser.post("/console/live/token", headers={"Origin": BASE})
        again = await browser.post("/console/live/token", headers={"Origin": BASE})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["url"] == "ws://127.0.0.1/ws" and body["token"]
    binding = read_binding(secure.ctx.security.tokens.keys, body["token"])
    assert binding.principal is not None and binding.principal.user_id == "nurse"
    assert again.json()["subscriptions"] == body["subscriptions"] >= 5  # reused, not remade
    async with _browser(secure) as browser:
        await _sign_in(browser, "commish")
        refused = await browser.post("/console/live/token", headers={"Origin": BASE})
    assert refused.status_code == 403


@pytest.mark.engines("sqlite")
async def test_an_idle_or_forged_session_is_over(secure: SecureApp) -> None:
    tokens, idle = secure.ctx.security.tokens, secure.ctx.security.settings.session_idle_seconds
    async with _browser(secure) as browser:
        await _sign_in(browser, "nurse")
        claims = tokens.signed_claims(browser.cookies["eolc_console"])
        assert claims is not None and claims["username"] == "nurse"
        browser.cookies.clear()
        fresh = tokens.sign({**claims, "last_use": int(time.time())})
        browser.cookies.set("eolc_console", fresh, path="/console")
        assert (await browser.get("/console/")).status_code == 200  # the jar swap works
        stale = tokens.sign({**claims, "last_use": int(time.time()) - idle - 1})
        browser.cookies.clear()  # the 200 above re-signed the session into the jar
        browser.cookies.set("eolc_console", stale, path="/console")
        assert (await browser.get("/console/")).status_code == 303
        browser.cookies.clear()
        browser.cookies.set("eolc_console", fresh[:-4] + "AAAA", path="/console")
        assert (await browser.get("/console/")).status_code == 303
