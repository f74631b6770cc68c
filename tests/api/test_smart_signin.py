"""People's sign-in (SMART App Launch v2): the authorization code flow with PKCE, followed
through the server's own sign-in page with an httpx client, against one app per engine."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import orjson
import pytest
import pytest_asyncio
from joserfc import jwk, jwt

from eolc_fhir.config import Settings
from eolc_fhir.security.clients import new_client
from eolc_fhir.security.sessions import SESSION_COOKIE, new_session
from eolc_fhir.storage.people_repo import UserRecord
from tests.api.module_app import engine_name, module_database
from tests.builders import make_patient
from tests.console_support import PASSWORD, SignInForm, hashed_user
from tests.security_support import FHIR, SecureApp, secure_app

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP = "test-console"
REDIRECT = "https://app.example.org/callback"
BASE = "http://test"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REFUSED = "username or password not accepted"
USERS = {"nurse": ("coordination-centre", "CC001"), "gp-user": ("gp", "Y01234"),
         "commissioner-user": ("commissioner", "CCG01"), "locky": ("gp", "Y01234"),
         "gone": ("gp", "Y01234")}


@pytest.fixture(scope="module")
def signin_url(engine_name: str, request: pytest.FixtureRequest,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "signin")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure(signin_url: str, tmp_path_factory: pytest.TempPathFactory
                 ) -> AsyncIterator[SecureApp]:
    settings = Settings(database_url=signin_url, base_url=BASE,
                        demo_keys_dir=Path(tmp_path_factory.mktemp("keys")))
    async with secure_app(settings) as app:
        async with app.ctx.db.unit_of_work(write=True) as uow:
            await uow.security.add_client(new_client(
                client_id=APP, name="Test console", ods="", role="", scopes=None, jwks=None,
                jwks_uri=None, redirect_uris=[REDIRECT], public=True))
            for username, (role, ods) in USERS.items():
                await uow.people.add_user(_user(username, role, ods))
        yield app


def _user(username: str, role: str, ods: str) -> UserRecord:
    return replace(hashed_user(), username=username, role=role, ods=ods)


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _authorize_query(challenge: str, scope: str = "openid fhirUser user/*.cruds",
                     **extra: str) -> str:
    query = {"response_type": "code", "client_id": APP, "redirect_uri": REDIRECT,
             "scope": scope, "state": "st-1", "code_challenge": challenge,
             "code_challenge_method": "S256", "aud": BASE, "nonce": "n-1", **extra}
    return "/auth/authorize?" + urlencode(query)


async def _page(http: httpx.AsyncClient, challenge: str, **extra: str) -> dict[str, str]:
    page = await http.get(_authorize_query(challenge, **extra))
    assert page.status_code == 200, page.text
    parser = SignInForm()
    parser.feed(page.text)
    assert parser.scripts == 0
    return parser.fields


async def _sign_in(http: httpx.AsyncClient, username: str, password: str = PASSWORD,
                   **extra: str) -> tuple[httpx.Response, str]:
    """Open the page, fill in the form, submit it; (the answer, the PKCE verifier)."""
    verifier, challenge = _pkce()
    fields = await _page(http, challenge, **extra)
    fields.update(username=username, password=password)
    return await http.post("/auth/authorize", data=fields), verifier


def _code(answer: httpx.Response) -> str:
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-1"] and "code" in query, query
    return query["code"][0]


def _browser(secure: SecureApp) -> httpx.AsyncClient:
    """A fresh browser: its own cookie jar, on the same app."""
    return httpx.AsyncClient(transport=secure.http._transport, base_url=BASE)


async def _redeem(secure: SecureApp, code: str, verifier: str,
                  redirect: str = REDIRECT) -> httpx.Response:
    return await secure.http.post("/auth/token", headers=FORM, data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
        "client_id": APP, "redirect_uri": redirect})


async def _token_for(secure: SecureApp, username: str, scope: str) -> dict[str, Any]:
    async with _browser(secure) as browser:
        answer, verifier = await _sign_in(browser, username, scope=scope)
        granted = await _redeem(secure, _code(answer), verifier)
    assert granted.status_code == 200, granted.text
    return dict(granted.json())


@pytest.mark.engines("sqlite", "postgresql")
async def test_a_person_signs_in_and_the_api_audits_them(secure: SecureApp) -> None:
    admin = await secure.headers("admin")
    put = await secure.http.put("/Patient/signin-p1", headers=await secure.headers("gp"),
                                content=orjson.dumps(make_patient(id="signin-p1")))
    assert put.status_code in (200, 201), put.text
    async with _browser(secure) as browser:
        page = await browser.get(_authorize_query(_pkce()[1]))
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp
        assert "form-action 'self' https://app.example.org" in csp
        answer, verifier = await _sign_in(browser, "nurse")
        code = _code(answer)
        cookie = answer.headers["set-cookie"]
        assert SESSION_COOKIE in cookie and "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
        assert "Secure" not in cookie  # plain http in this test; https would add it
    granted = await _redeem(secure, code, verifier)
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert body["scope"] == "openid fhirUser user/*.rs user/EpisodeOfCare.cu " \
                            "user/Subscription.cu"
    jwks = (await secure.http.get("/.well-known/jwks.json")).json()
    claims = jwt.decode(body["id_token"], jwk.KeySet.import_key_set(jwks),
                        algorithms=["RS384"]).claims
    assert claims["sub"] == "nurse" and claims["aud"] == APP and claims["nonce"] == "n-1"
    assert claims["iss"] == BASE
    assert claims["fhirUser"].startswith(f"{BASE}/Practitioner?identifier=")
    person = {"Authorization": f"Bearer {body['access_token']}", "Content-Type": FHIR}
    read = await secure.http.get("/Patient/signin-p1", headers=person)
    assert read.status_code == 200, read.text
    refused = await secure.http.delete("/Patient/signin-p1", headers=person)
    assert refused.status_code == 403  # the role has no delete, whatever the app asked
    again = await _redeem(secure, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    events = (await secure.http.get("/AuditEvent?patient=Patient/signin-p1&_count=50",
                                    headers=admin)).json()["entry"]
    mine = [e["resource"] for e in events
            if e["resource"]["agent"][0].get("altId") == "nurse"]
    assert {e["subtype"][0]["code"] for e in mine} >= {"read"}
    agents = mine[0]["agent"]
    assert agents[0]["who"]["identifier"]["value"] == "nurse" and agents[0]["requestor"]
    assert agents[0]["role"][0]["coding"][0]["code"] == "coordination-centre"
    assert agents[1]["altId"] == APP and not agents[1]["requestor"]
    assert agents[2]["who"]["identifier"]["value"] == "CC001"


@pytest.mark.engines("sqlite")
async def test_scopes_are_narrowed_to_the_role(secure: SecureApp) -> None:
    commissioner = await _token_for(secure, "commissioner-user", "openid user/*.cruds")
    assert commissioner["scope"] == "openid user/*.rs"
    gp = await _token_for(secure, "gp-user", "user/*.cruds")
    assert gp["scope"] == "user/*.crus" and "id_token" not in gp
    narrow = await _token_for(secure, "gp-user", "user/CarePlan.rs launch/patient")
    assert narrow["scope"] == "user/CarePlan.rs"


@pytest.mark.engines("sqlite")
async def test_a_wrong_verifier_is_refused(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        answer, _ = await _sign_in(browser, "nurse")
    wrong = await _redeem(secure, _code(answer), _pkce()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


@pytest.mark.engines("sqlite")
async def test_the_redirect_uri_must_match_exactly(secure: SecureApp) -> None:
    for uri in (REDIRECT + "/", "https://evil.example.org/callback", REDIRECT + "?x=1"):
        page = await secure.http.get(_authorize_query(_pkce()[1], redirect_uri=uri))
        assert page.status_code == 400 and "location" not in page.headers
    async with _browser(secure) as browser:
        answer, verifier = await _sign_in(browser, "nurse")
    other = await _redeem(secure, _code(answer), verifier, "https://app.example.org/other")
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"


@pytest.mark.engines("sqlite")
async def test_bad_requests_go_back_to_the_app_with_an_error(secure: SecureApp) -> None:
    plain = await secure.http.get(_authorize_query("x" * 43, code_challenge_method="plain"))
    assert plain.status_code == 303
    assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]
    system = await secure.http.get(_authorize_query(_pkce()[1], scope="system/*.rs"))
    assert parse_qs(urlsplit(system.headers["location"]).query)["error"] == ["invalid_scope"]
    aud = await secure.http.get(_authorize_query(_pkce()[1], aud="https://other/fhir"))
    assert parse_qs(urlsplit(aud.headers["location"]).query)["error"] == ["invalid_request"]


@pytest.mark.engines("sqlite")
async def test_the_form_needs_its_csrf_token(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        fields = await _page(browser, _pkce()[1])
        fields.update(username="nurse", password=PASSWORD)
        missing = await browser.post("/auth/authorize",
                                     data={k: v for k, v in fields.items() if k != "csrf"})
        assert missing.status_code == 403
        forged = await browser.post("/auth/authorize", data={**fields, "csrf": "forged"})
        assert forged.status_code == 403
        elsewhere = await browser.post("/auth/authorize", data=fields,
                                       headers={"Origin": "https://evil.example.org"})
        assert elsewhere.status_code == 403
    async with _browser(secure) as stranger:  # the right token, but no cookie to match
        posted = await stranger.post("/auth/authorize", data=fields)
        assert posted.status_code == 403


@pytest.mark.engines("sqlite")
async def test_five_wrong_passwords_lock_the_account(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        for _ in range(5):
            answer, _ = await _sign_in(browser, "locky", "wrong password!")
            assert answer.status_code == 401 and REFUSED in answer.text
        locked, _ = await _sign_in(browser, "locky")  # the right password, too late
        assert locked.status_code == 401 and REFUSED in locked.text
        unknown, _ = await _sign_in(browser, "nobody-at-all", PASSWORD)
        assert unknown.status_code == 401 and REFUSED in unknown.text
        assert "locked" not in locked.text.lower() and "unknown" not in unknown.text.lower()
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        user = await uow.people.get_user("locky")
    assert user is not None and user.locked_until_us > time.time() * 1e6 + 800e6


@pytest.mark.engines("sqlite")
async def test_the_session_gives_a_code_at_once_until_idle(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        _code((await _sign_in(browser, "nurse"))[0])
        again = await browser.get(_authorize_query(_pkce()[1]))
        _code(again)  # no form: the session is live
        idle = new_session(secure.ctx.security.tokens, "nurse",
                           int(time.time()) - 2000)
        browser.cookies.set(SESSION_COOKIE, _aged(secure, idle))
        expired = await browser.get(_authorize_query(_pkce()[1]))
        assert expired.status_code == 200 and 'name="password"' in expired.text


def _aged(secure: SecureApp, cookie: str) -> str:
    """The same session, last used 1,000 seconds ago (the idle limit is 900)."""
    tokens = secure.ctx.security.tokens
    claims = tokens.signed_claims(cookie)
    return str(tokens.sign({**claims, "last_use": int(time.time()) - 1000}))


@pytest.mark.engines("sqlite")
async def test_a_disabled_account_gets_no_token(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        answer, verifier = await _sign_in(browser, "gone")
        code = _code(answer)
        async with secure.ctx.db.unit_of_work(write=True) as uow:
            await uow.people.set_user("gone", disabled=True)
        refused = await _redeem(secure, code, verifier)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        again, _ = await _sign_in(browser, "gone")
        assert again.status_code == 401


@pytest.mark.engines("sqlite")
async def test_discovery_advertises_the_flow(secure: SecureApp) -> None:
    smart = (await secure.http.get("/.well-known/smart-configuration")).json()
    assert smart["authorization_endpoint"] == f"{BASE}/auth/authorize"
    assert smart["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "client_credentials"} <= set(smart["grant_types_supported"])
    assert {"launch-standalone", "client-public", "sso-openid-connect",
            "permission-v2"} <= set(smart["capabilities"])
    oidc = (await secure.http.get("/.well-known/openid-configuration")).json()
    assert oidc["issuer"] == BASE and oidc["jwks_uri"] == f"{BASE}/.well-known/jwks.json"
    metadata = (await secure.http.get("/metadata")).json()
    uris = metadata["rest"][0]["security"]["extension"][0]["extension"]
    assert {"url": "authorize", "valueUri": f"{BASE}/auth/authorize"} in uris


@pytest.mark.engines("sqlite")
async def test_a_public_app_cannot_use_client_credentials(secure: SecureApp) -> None:
    from eolc_fhir.security.client_side import make_assertion, new_private_key

    assertion = make_assertion(APP, new_private_key("EC"), f"{BASE}/auth/token")
    answer = await secure.http.post("/auth/token", headers=FORM, data={
        "grant_type": "client_credentials", "scope": "system/*.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


@pytest.mark.engines("sqlite")
async def test_signing_out_ends_the_session(secure: SecureApp) -> None:
    async with _browser(secure) as browser:
        _code((await _sign_in(browser, "nurse"))[0])
        csrf = browser.cookies.get("eolc_csrf")
        refused = await browser.post("/auth/signout", data={"csrf": "forged"})
        assert refused.status_code == 403
        done = await browser.post("/auth/signout", data={"csrf": csrf})
        assert done.status_code == 200 and SESSION_COOKIE not in browser.cookies
        page = await browser.get(_authorize_query(_pkce()[1]))
        assert page.status_code == 200 and 'name="password"' in page.text
