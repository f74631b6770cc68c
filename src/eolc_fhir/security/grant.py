"""POST /auth/token: the client_credentials grant with a private_key_jwt assertion."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eolc_fhir.security.assertion import ASSERTION_TYPE, check_assertion
from eolc_fhir.security.oauth import OAuthError
from eolc_fhir.security.scopes import Grants, ScopeError, parse_scopes
from eolc_fhir.security.state import SecurityState
from eolc_fhir.storage.security_repo import ClientRecord

__all__ = ["grant_token"]


async def grant_token(state: SecurityState, form: Mapping[str, str],
                      token_url: str) -> dict[str, Any]:
    """The token response, or OAuthError."""
    if form.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = form.get("client_assertion")
    if not assertion:
        raise OAuthError("invalid_request", "client_assertion is missing")
    requested = form.get("scope", "").strip()
    if not requested:
        raise OAuthError("invalid_request", "scope is missing")
    client = await check_assertion(assertion, token_url=token_url, find_client=state.find_client,
                                   jwks=state.jwks, use_jti=state.use_jti)
    grants = _granted(client, requested)
    token = state.tokens.issue(client_id=client.client_id, ods=client.ods, role=client.role,
                               grants=grants)
    return {"access_token": token, "token_type": "bearer",
            "expires_in": state.tokens.lifetime, "scope": str(grants)}


def _granted(client: ClientRecord, requested: str) -> Grants:
    try:
        wanted = parse_scopes(requested)
    except ScopeError as exc:
        raise OAuthError("invalid_scope", str(exc)) from None
    allowed = parse_scopes(client.scopes)
    if not allowed.covers(wanted):
        raise OAuthError("invalid_scope",
                         f"the client may have at most these scopes: {allowed}")
    return wanted
