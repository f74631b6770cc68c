"""SMART endpoints: discovery, the server's JWKS and the token endpoint (Backend Services
and, for people's apps, the authorization code; api/signin.py has the sign-in page)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from eolc_fhir.api.deps import BaseUrl, Ctx
from eolc_fhir.api.signin import AUTHORIZE_PATH
from eolc_fhir.security.assertion import claimed_client
from eolc_fhir.security.clients import CLIENT_ALGORITHMS
from eolc_fhir.security.grant import grant_token
from eolc_fhir.security.oauth import OAuthError

__all__ = ["router", "TOKEN_PATH"]

log = logging.getLogger("eolc_fhir.security")
router = APIRouter()
TOKEN_PATH = "/auth/token"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.get("/.well-known/smart-configuration", summary="SMART configuration")
async def smart_configuration(base: BaseUrl) -> Response:
    return JSONResponse({
        "issuer": base,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}{TOKEN_PATH}",
        "authorization_endpoint": f"{base}{AUTHORIZE_PATH}",
        "grant_types_supported": ["client_credentials", "authorization_code"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ALGORITHMS),
        "code_challenge_methods_supported": ["S256"],
        "response_types_supported": ["code"],
        "scopes_supported": ["openid", "fhirUser", "user/*.cruds", "user/*.rs",
                             "user/<Type>.<cruds>", "system/*.cruds", "system/*.rs",
                             "system/*.read", "system/*.write", "system/<Type>.<cruds>"],
        "capabilities": ["client-confidential-asymmetric", "client-public", "launch-standalone",
                         "sso-openid-connect", "permission-v1", "permission-v2"],
    })


@router.get("/.well-known/jwks.json", summary="the server's public signing keys")
async def server_jwks(ctx: Ctx) -> Response:
    if ctx.security is None:
        return JSONResponse({"keys": []})
    return JSONResponse(ctx.security.tokens.keys.public_jwks())


@router.post(TOKEN_PATH, summary="SMART token endpoint")
async def token(request: Request, ctx: Ctx, base: BaseUrl) -> Response:
    """client_credentials with a private_key_jwt client assertion, or authorization_code
    with the PKCE code_verifier (form-encoded)."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        if ctx.security is None:
            raise OAuthError("invalid_request", "authentication is off (--insecure-dev)")
        client = request.client.host if request.client else "-"
        if ctx.security.limiter.take(f"token:{client}") > 0:
            raise OAuthError("slow_down", "too many token requests; retry later", 429)
        answer = await grant_token(ctx.security, form, f"{base}{TOKEN_PATH}", base)
    except OAuthError as exc:
        log.info("token refused: %s (client %s)", exc.error, _claimed_client(form))
        headers = dict(_NO_STORE)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="eolc-fhir"'
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
    return JSONResponse(answer, headers=_NO_STORE)


def _claimed_client(form: dict[str, str]) -> str:
    return claimed_client(form.get("client_assertion", ""))
