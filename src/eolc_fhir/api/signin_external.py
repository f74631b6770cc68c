"""Sign-in at an external OpenID Connect provider (EOLC_OIDC_ISSUER): off to the provider,
and back at GET /auth/oidc/callback (security/external_oidc.py does the protocol)."""

from __future__ import annotations

import hmac
import time

import httpx
from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from eolc_fhir.api.deps import BaseUrl, Ctx, base_url_for
from eolc_fhir.api.signin_page import message_page
from eolc_fhir.api.signin_session import cookie, signed_in
from eolc_fhir.security.authorize import (
    AuthRequest,
    NoRedirect,
    check_request,
    error_redirect,
    issue_code,
)
from eolc_fhir.security.external_oidc import Pending
from eolc_fhir.security.oauth import OAuthError
from eolc_fhir.security.state import SecurityState
from eolc_fhir.security.users import SignInRefused

__all__ = ["router", "start", "CALLBACK_PATH"]

router = APIRouter()
CALLBACK_PATH = "/auth/oidc/callback"
PENDING_COOKIE = "eolc_oidc_pending"
_KIND = "eolc-oidc-pending"
_PENDING_SECONDS = 600


def _callback(request: Request, state: SecurityState) -> str:
    return base_url_for(state.settings, request.scope) + CALLBACK_PATH


async def start(request: Request, state: SecurityState, auth: AuthRequest) -> Response:
    """Send the browser to the provider; keep the app's request in a signed cookie."""
    assert state.external is not None
    try:
        target, pending = await state.external.begin(auth.fields(), _callback(request, state))
    except (httpx.HTTPError, SignInRefused, KeyError, ValueError):
        return message_page("Sign-in unavailable", "the sign-in service cannot be reached "
                            "now: try again later", 503)
    kept = state.tokens.sign({"kind": _KIND, "state": pending.state, "nonce": pending.nonce,
                              "verifier": pending.verifier, "request": pending.request,
                              "exp": int(time.time()) + _PENDING_SECONDS})
    response = RedirectResponse(target, 303)
    # Lax, not Strict: the provider sends the browser back from its own site.
    attributes = {**cookie(request, state), "samesite": "lax", "path": "/auth/oidc"}
    response.set_cookie(PENDING_COOKIE, kept, max_age=_PENDING_SECONDS,
                        **attributes)  # type: ignore[arg-type]
    return response


def _pending(state: SecurityState, value: str | None) -> Pending | None:
    claims = state.tokens.signed_claims(value) if value else None
    if claims is None or claims.get("kind") != _KIND:
        return None
    exp, request = claims.get("exp"), claims.get("request")
    if not isinstance(exp, int) or exp <= time.time() or not isinstance(request, dict):
        return None
    return Pending(str(claims["state"]), str(claims["nonce"]), str(claims["verifier"]),
                   {str(k): str(v) for k, v in request.items()})


@router.get(CALLBACK_PATH, summary="back from the external OpenID Connect provider",
            response_class=Response)
async def callback(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    state: SecurityState | None = ctx.security
    pending = _pending(state, request.cookies.get(PENDING_COOKIE)) if state else None
    query = request.query_params
    if state is None or state.external is None or pending is None or \
            not hmac.compare_digest(pending.state, query.get("state", "")):
        return message_page("Sign-in refused", "this sign-in has expired or was not started "
                            "here: go back to the app and start again", 400)
    try:
        client, auth = await check_request(state, pending.request, base)
    except (NoRedirect, OAuthError):
        return message_page("Sign-in refused", "the app's request is no longer valid", 400)
    try:
        if "code" not in query:
            raise SignInRefused()
        person = await state.external.finish(query["code"], pending, _callback(request, state))
    except (SignInRefused, httpx.HTTPError, KeyError, ValueError):
        return _denied(auth)
    response = signed_in(request, state, person, await issue_code(state, client, auth, person))
    response.delete_cookie(PENDING_COOKIE, path="/auth/oidc")
    return response


def _denied(auth: AuthRequest) -> Response:
    error = OAuthError("access_denied", "the sign-in was not accepted")
    return RedirectResponse(error_redirect(auth.redirect_uri, error, auth.state), 303)
