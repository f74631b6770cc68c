"""POST /auth/token: client_credentials with a private_key_jwt assertion, and
authorization_code with PKCE (security/authorize.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eolc_fhir.security.assertion import ASSERTION_TYPE, check_assertion
from eolc_fhir.security.authorize import grant_code
from eolc_fhir.security.oauth import OAuthError
from eolc_fhir.security.scopes import Grants, ScopeError, parse_scopes
from eolc_fhir.security.state import SecurityState
from eolc_fhir.storage.security_repo import ClientRecord

__all__ = ["grant_token"]


async def grant_token(state: SecurityState, form: Mapping[str, str],
                      token_url: str, base: str = "") -> dict[str, Any]:
    """The token response, or OAuthError."""
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        async def authenticate(app: ClientRecord) -> None:
            client = await _assertion_client(state, form, token_url)
            if client.client_id != app.client_id:
                raise OAuthError("invalid_client", "the assertion is not the app's", 401)

        return await grant_code(state, form, base, authenticate)
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type",
                         "grant_type must be client_credentials or authorization_code")
    assertion = _assertion_of(form)
    requested = form.get("scope", "").strip()
    if not requested:
        raise OAuthError("invalid_request", "scope is missing")
    client = await _check(state, assertion, token_url)
    grants = _granted(client, requested)
    token = state.tokens.issue(client_id=client.client_id, ods=client.ods, role=client.role,
                               grants=grants)
    return {"access_token": token, "token_type": "bearer",
            "expires_in": state.tokens.lifetime, "scope": str(grants)}


async def _assertion_client(state: SecurityState, form: Mapping[str, str],
                            token_url: str) -> ClientRecord:
    return await _check(state, _assertion_of(form), token_url)


def _assertion_of(form: Mapping[str, str]) -> str:
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = form.get("client_assertion")
    if not assertion:
        raise OAuthError("invalid_request", "client_assertion is missing")
    return assertion


async def _check(state: SecurityState, assertion: str, token_url: str) -> ClientRecord:
    return await check_assertion(assertion, token_url=token_url,
                                 find_client=state.find_client, jwks=state.jwks,
                                 use_jti=state.use_jti)


def _granted(client: ClientRecord, requested: str) -> Grants:
    try:
        wanted = parse_scopes(requested)
    except ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    allowed = parse_scopes(client.scopes, context=None)
    if not allowed.covers(wanted):
        raise OAuthError("invalid_scope",
                         f"the client may have at most these scopes: {allowed}")
    return wanted
