"""Sign-in at an external OpenID Connect provider: a second instance of this server plays
the provider (real HTTP on loopback), the first signs its people in there."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import pytest_asyncio
import uvicorn

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.security.clients import new_client
from tests.api.module_app import engine_name, module_database
from tests.api.test_smart_signin import (
    APP,
    FORM,
    PASSWORD,
    REDIRECT,
    _authorize_query,
    _pkce,
    _user,
)
from tests.console_support import SignInForm
from tests.security_support import FHIR

__all__ = ["engine_name"]  # a fixture (module scope)

pytestmark = [pytest.mark.engines("sqlite"), pytest.mark.asyncio(loop_scope="module")]

OURS = "http://localhost:8999"  # the server whose people sign in elsewhere (ASGI, no port)
CALLBACK = f"{OURS}/auth/oidc/callback"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _add(app: Any, client: Any, *users: tuple[str, str, str]) -> None:
    async with app.state.ctx.db.unit_of_work(write=True) as uow:
        await uow.security.add_client(client)
        for username, role, ods in users:
            await uow.people.add_user(_user(username, role, ods))


@pytest.fixture(scope="module")
def provider_url(engine_name: str, request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "provider")


@pytest.fixture(scope="module")
def our_url(engine_name: str, request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from module_database(engine_name, request, tmp_path_factory, "ours")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def provider(provider_url: str, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[str]:
    """The external provider: this server, on a loopback port, with a person and with the
    other server registered as its public app."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(Settings(database_url=provider_url, base_url=base,
                              demo_keys_dir=tmp_path_factory.mktemp("provider-keys")))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, ws="none",
                                           http="h11", log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    await _add(app, new_client(client_id="downstream", name="Downstream server", ods="",
                               role="", scopes=None, jwks=None, jwks_uri=None,
                               redirect_uris=[CALLBACK], public=True),
               ("ext-nurse", "coordination-centre", "CC001"), ("ext-gp", "gp", "Y01234"))
    try:
        yield base
    finally:
        server.should_exit = True
        await task


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ours(provider: str, our_url: str, tmp_path_factory: pytest.TempPathFactory
               ) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=our_url, base_url=OURS,
                              demo_keys_dir=tmp_path_factory.mktemp("our-keys"),
                              oidc_issuer=provider,
                              oidc_client_id="downstream"))
    async with app.router.lifespan_context(app):
        # ext-gp is a gp at the provider, an ambulance crew member here: here wins.
        await _add(app, new_client(client_id=APP, name="Test console", ods="", role="",
                                   scopes=None, jwks=None, jwks_uri=None,
                                   redirect_uris=[REDIRECT], public=True),
                   ("ext-gp", "ambulance", "RYC01"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=OURS) as http:
            yield http


async def _at_provider(location: str, username: str) -> str:
    """The person signs in on the provider's page; where the provider sends them back."""
    async with httpx.AsyncClient() as browser:
        page = await browser.get(location)
        assert page.status_code == 200, page.text
        form = SignInForm()
        form.feed(page.text)
        form.fields.update(username=username, password=PASSWORD)
        back = await browser.post(f"{location.split('/auth/')[0]}/auth/authorize",
                                  data=form.fields)
    assert back.status_code == 303, back.text
    return str(back.headers["location"])


def _query(answer: httpx.Response) -> dict[str, list[str]]:
    assert answer.status_code == 303, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)


async def test_a_person_signs_in_at_the_external_provider(
        provider: str, ours: httpx.AsyncClient) -> None:
    ours.cookies.clear()  # a new browser (one app serves the whole module)
    verifier, challenge = _pkce()
    away = await ours.get(_authorize_query(challenge, aud=OURS))
    assert away.status_code == 303 and away.headers["location"].startswith(
        f"{provider}/auth/authorize?")
    back = await _at_provider(away.headers["location"], "ext-nurse")
    assert back.startswith(CALLBACK + "?")
    home = await ours.get(back.removeprefix(OURS))
    query = _query(home)
    assert query["state"] == ["st-1"] and home.headers["location"].startswith(REDIRECT)
    token = await ours.post("/auth/token", headers=FORM, data={
        "grant_type": "authorization_code", "code": query["code"][0],
        "code_verifier": verifier, "client_id": APP, "redirect_uri": REDIRECT})
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["scope"] == "openid fhirUser user/*.rs user/EpisodeOfCare.cu " \
                            "user/Subscription.cu"  # the provider's role claim, narrowed
    assert (await ours.get("/.well-known/smart-configuration")).status_code == 200
    read = await ours.get("/Patient", headers={"Authorization":
                                               f"Bearer {body['access_token']}",
                                               "Accept": FHIR})
    assert read.status_code == 200, read.text
    replay = await ours.get(back.removeprefix(OURS))
    assert replay.status_code == 400  # the pending sign-in was used up


async def test_a_local_account_with_the_subject_decides_the_role(
        provider: str, ours: httpx.AsyncClient) -> None:
    ours.cookies.clear()  # a new browser (one app serves the whole module)
    verifier, challenge = _pkce()
    away = await ours.get(_authorize_query(challenge, aud=OURS))
    home = await ours.get((await _at_provider(away.headers["location"], "ext-gp"))
                          .removeprefix(OURS))
    token = await ours.post("/auth/token", headers=FORM, data={
        "grant_type": "authorization_code", "code": _query(home)["code"][0],
        "code_verifier": verifier, "client_id": APP, "redirect_uri": REDIRECT})
    assert token.json()["scope"] == "openid fhirUser user/*.rs user/Subscription.cu"


async def test_a_callback_that_was_not_started_here_is_refused(
        provider: str, ours: httpx.AsyncClient) -> None:
    ours.cookies.clear()  # a new browser (one app serves the whole module)
    forged = await ours.get("/auth/oidc/callback?code=abc&state=xyz")
    assert forged.status_code == 400
    away = await ours.get(_authorize_query(_pkce()[1], aud=OURS))
    wrong_state = await ours.get("/auth/oidc/callback?code=abc&state=other")
    assert away.status_code == 303 and wrong_state.status_code == 400
    local = await ours.post("/auth/authorize", data={"username": "x", "password": "y"})
    assert local.status_code == 404  # no local passwords when a provider is configured
