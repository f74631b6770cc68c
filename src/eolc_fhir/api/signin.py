"""People's sign-in: GET/POST /auth/authorize (the sign-in page), sign-out, OIDC discovery.

The one page signs a person in with a local account, keeps a session cookie
(security/sessions.py) so that an app asking again within the session gets its
code at once, and sends the app a one-time code (security/authorize.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from eolc_fhir.api import signin_external as external
from eolc_fhir.api.deps import BaseUrl, Ctx
from eolc_fhir.api.signin_page import message_page, signin_page
from eolc_fhir.api.signin_session import cookie, signed_in
from eolc_fhir.security.authorize import (
    REQUEST_FIELDS,
    App,
    AuthRequest,
    NoRedirect,
    check_request,
    error_redirect,
    issue_code,
)
from eolc_fhir.security.keys import KEY_ALGORITHM
from eolc_fhir.security.oauth import OAuthError
from eolc_fhir.security.sessions import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_matches,
    new_csrf,
    session_user,
)
from eolc_fhir.security.state import SecurityState
from eolc_fhir.security.users import SignInRefused, active_person, sign_in

__all__ = ["router", "AUTHORIZE_PATH"]

router = APIRouter()
AUTHORIZE_PATH = "/auth/authorize"
_FORM_LIMIT = 16_384


def _security(ctx: Any) -> SecurityState | None:
    state: SecurityState | None = ctx.security
    return state


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    return dict(parse_qsl(body[:_FORM_LIMIT].decode("utf-8", "replace")))


@router.get(AUTHORIZE_PATH, summary="SMART App Launch: authorize (shows the sign-in page)",
            response_class=Response)
async def authorize(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    """The authorization request: a code at once within a live session, else the sign-in
    page."""
    state = _security(ctx)
    if state is None:
        return message_page("Sign-in unavailable", "authentication is off (--insecure-dev)",
                            404)
    checked = await _checked(state, dict(request.query_params), base)
    if isinstance(checked, Response):
        return checked
    client, auth = checked
    live = session_user(state.tokens, state.settings, request.cookies.get(SESSION_COOKIE))
    person = await active_person(state.db, live[0]) if live is not None else None
    if live is not None and person is not None:
        target = await issue_code(state, client, auth, person)
        return signed_in(request, state, person, target, live[1])
    if state.external is not None:
        return await external.start(request, state, auth)
    return _page(request, state, client, auth, None)


async def _checked(state: SecurityState, form: dict[str, str],
                   base: str) -> tuple[App, AuthRequest] | Response:
    try:
        return await check_request(state, form, base)
    except NoRedirect as exc:
        return message_page("Sign-in request refused", str(exc), 400)
    except OAuthError as exc:
        return RedirectResponse(error_redirect(form["redirect_uri"], exc,
                                               form.get("state", "")), 303)


def _page(request: Request, state: SecurityState, client: App, auth: AuthRequest,
          error: str | None, username: str = "", status: int = 200) -> Response:
    csrf = request.cookies.get(CSRF_COOKIE) or new_csrf()
    page = signin_page(app_name=client.name, fields=auth.fields(), csrf=csrf, error=error,
                       username=username, status=status)
    page.set_cookie(CSRF_COOKIE, csrf, **cookie(request, state))  # type: ignore[arg-type]
    return page


@router.post(AUTHORIZE_PATH, summary="the sign-in form's submission", response_class=Response)
async def sign_in_form(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    state = _security(ctx)
    if state is None:
        return message_page("Sign-in unavailable", "authentication is off (--insecure-dev)",
                            404)
    if state.external is not None:
        return message_page("Sign-in elsewhere", "people sign in at the organisation's "
                            "sign-in service, not with a password here", 404)
    form = await _form(request)
    if not csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf")) or \
            not _same_origin(request, base):
        return message_page("Sign-in refused", "the form has expired or did not come from "
                            "this page: go back to the app and start again", 403)
    checked = await _checked(state, {k: form[k] for k in REQUEST_FIELDS if k in form}, base)
    if isinstance(checked, Response):
        return checked
    client, auth = checked
    remote = request.client.host if request.client else "-"
    if state.limiter.take(f"signin:{remote}") > 0:
        return _page(request, state, client, auth, "too many attempts: wait a minute",
                     status=429)
    username = form.get("username", "")
    try:
        person = await sign_in(state.db, state.settings, username, form.get("password", ""))
    except SignInRefused as exc:
        return _page(request, state, client, auth, str(exc), username[:64], status=401)
    return signed_in(request, state, person, await issue_code(state, client, auth, person))


def _same_origin(request: Request, base: str) -> bool:
    """An Origin header, when the browser sends one, must be this server's."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = urlsplit(base)
    return origin == f"{ours.scheme}://{ours.netloc}"


@router.post("/auth/signout", summary="end the sign-in session", response_class=Response)
async def sign_out(request: Request, ctx: Ctx) -> Response:
    """Ends the session cookie (tokens already given to apps expire in their lifetime)."""
    state = _security(ctx)
    form = await _form(request)
    if state is None or not csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        return message_page("Sign-out refused", "the form did not come from this server", 403)
    response = message_page("Signed out", "You are signed out.", 200)
    response.delete_cookie(SESSION_COOKIE, **cookie(request, state))  # type: ignore[arg-type]
    return response


@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery")
async def openid_configuration(base: BaseUrl) -> Response:
    return JSONResponse({
        "issuer": base,
        "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
        "token_endpoint": f"{base}/auth/token",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [KEY_ALGORITHM],
        "scopes_supported": ["openid", "fhirUser"],
        "claims_supported": ["sub", "fhirUser", "role", "ods", "nonce"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
    })
