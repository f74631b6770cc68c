"""SMART Backend Services client assertions: check one and say which client sent it.

Refused, each as an OAuth ``invalid_client``: an algorithm other than RS384 or
ES384 (so ``none`` and every HMAC), iss != sub, an unknown client, a bad
signature, ``aud`` other than the token endpoint, a missing or past ``exp``,
``exp`` more than five minutes ahead, a missing or reused ``jti``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from joserfc import jwt
from joserfc.errors import JoseError

from eolc_fhir.fhir.ids import is_valid_id
from eolc_fhir.security.clients import CLIENT_ALGORITHMS, JwksCache
from eolc_fhir.security.oauth import OAuthError
from eolc_fhir.storage.security_repo import ClientRecord

__all__ = ["check_assertion", "claimed_client", "MAX_LIFETIME", "ASSERTION_TYPE"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_LIFETIME = 300  # seconds: SMART says exp no more than five minutes in the future
_SKEW = 5  # seconds of clock difference we forgive

FindClient = Callable[[str], Awaitable[ClientRecord | None]]
UseJti = Callable[[str, str, int], Awaitable[bool]]  # (client_id, jti, exp) -> fresh?


def _refuse(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401)


def _segment(part: str) -> dict[str, Any]:
    try:
        value = orjson.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise _refuse("the client assertion is not a JWT") from None
    if not isinstance(value, dict):
        raise _refuse("the client assertion is not a JWT")
    return value


def _unverified(assertion: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = assertion.split(".")
    if len(parts) != 3:
        raise _refuse("the client assertion is not a signed JWT")
    return _segment(parts[0]), _segment(parts[1])


def _check_claims(claims: dict[str, Any], client_id: str, token_url: str, now: float) -> None:
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if token_url not in audiences:
        raise _refuse(f"aud must be the token endpoint {token_url}")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise _refuse("the client assertion has no exp")
    if exp <= now - _SKEW:
        raise _refuse("the client assertion has expired")
    if exp > now + MAX_LIFETIME + _SKEW:
        raise _refuse("exp is more than five minutes ahead")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        raise _refuse("the client assertion has no jti")
    if claims.get("sub") != client_id:
        raise _refuse("iss and sub must both be the client_id")


async def check_assertion(assertion: str, *, token_url: str, find_client: FindClient,
                          jwks: JwksCache, use_jti: UseJti) -> ClientRecord:
    header, unverified = _unverified(assertion)
    if header.get("alg") not in CLIENT_ALGORITHMS:
        raise _refuse(f"alg must be one of {', '.join(CLIENT_ALGORITHMS)}")
    client_id = unverified.get("iss")
    if not isinstance(client_id, str) or not client_id:
        raise _refuse("the client assertion has no iss")
    client = await find_client(client_id)
    if client is None:
        raise _refuse("unknown client")
    if client.public:
        raise _refuse("a public app has no keys: it signs people in with PKCE only")
    claims = await _verified_claims(assertion, client, jwks, header)
    now = time.time()
    _check_claims(claims, client_id, token_url, now)
    if not await use_jti(client_id, claims["jti"], int(claims["exp"])):
        raise _refuse("this jti has been used before")
    return client


async def _verified_claims(assertion: str, client: ClientRecord, jwks: JwksCache,
                           header: dict[str, Any]) -> dict[str, Any]:
    for refresh in (False, True):
        try:
            keys = await jwks.keys_for(client, refresh=refresh)
        except Exception:  # an unreachable or malformed jwks_uri
            raise _refuse("the client's keys could not be fetched") from None
        try:
            token = jwt.decode(assertion, keys, algorithms=list(CLIENT_ALGORITHMS))
        except JoseError:
            # A key not found may be a rotation at the client: fetch its jwks_uri again.
            if not refresh and client.jwks_uri is not None and header.get("kid"):
                continue
            raise _refuse("the client assertion's signature does not verify") from None
        return dict(token.claims)
    raise _refuse("the client assertion's signature does not verify")


def claimed_client(assertion: str) -> str:
    """The iss an assertion claims (unverified; for logs only), or '-'."""
    try:
        iss = _unverified(assertion)[1].get("iss")
    except OAuthError:
        return "-"
    # Unverified text from the caller: only something shaped like a client id is logged.
    return iss if isinstance(iss, str) and is_valid_id(iss) else "-"
