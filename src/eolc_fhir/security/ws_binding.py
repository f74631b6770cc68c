"""Websocket binding tokens ($get-ws-binding-token): signed, short-lived, for one use.

A binding token is a JWT signed with the server's own key (like access tokens,
so any process sharing the database can check it), typed ``eolc-ws-binding``
so it can never pass as an access token (nor one as it: ``typ`` and ``aud``
differ). It names the Subscriptions it binds and carries the whole principal
that asked for it (client, organisation, role, scopes and whatever else a
``Principal`` holds, e.g. a signed-in person), so the socket acts as that
principal. One use only: its ``jti`` is recorded at bind (``SecurityState.use_jti``).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from eolc_fhir.security.keys import KEY_ALGORITHM, SigningKeys
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.scopes import Grants, ScopeError, parse_scopes
from eolc_fhir.security.tokens import ISSUER, InvalidToken

__all__ = ["Binding", "issue_binding", "read_binding", "BINDING_AUDIENCE", "BINDING_TYPE"]

BINDING_TYPE = "eolc-ws-binding"
BINDING_AUDIENCE = ISSUER + ":websocket"


@dataclass(frozen=True)
class Binding:
    """What a valid binding token grants: these Subscriptions, to this principal, until."""

    subscriptions: tuple[str, ...]
    principal: Principal | None  # None: issued with --insecure-dev
    expires_at: float  # seconds since the epoch
    jti: str


def _principal_claim(principal: Principal) -> dict[str, Any]:
    # Every field, so what a Principal gains later (a person) rides along unchanged.
    return {f.name: str(v) if isinstance(v, Grants) else v
            for f in dataclasses.fields(principal)
            for v in (getattr(principal, f.name),)}


def _principal_from(claim: Any) -> Principal:
    if not isinstance(claim, dict):
        raise InvalidToken("the binding token names no client")
    try:
        # context=None: a person's token holds user/ scopes, a system's system/ ones
        values = {**claim, "grants": parse_scopes(str(claim.get("grants", "")), context=None)}
        return Principal(**values)
    except (TypeError, ScopeError):
        raise InvalidToken("the binding token's client is not one this server knows") from None


def issue_binding(keys: SigningKeys, principal: Principal, subscriptions: list[str],
                  expires_at: int) -> tuple[str, str]:
    """A signed binding token and its jti."""
    jti = "ws-" + uuid.uuid4().hex
    claims = {"iss": ISSUER, "aud": BINDING_AUDIENCE, "sub": principal.client_id,
              "iat": int(time.time()), "exp": expires_at, "jti": jti,
              "subscriptions": subscriptions, "principal": _principal_claim(principal)}
    header = {"alg": KEY_ALGORITHM, "kid": keys.signing.kid, "typ": BINDING_TYPE}
    return jwt.encode(header, claims, keys.signing, algorithms=[KEY_ALGORITHM]), jti


def read_binding(keys: SigningKeys, token: str) -> Binding:
    """The binding a token grants; InvalidToken when forged, of another kind or expired."""
    try:
        decoded = jwt.decode(token, keys.key_set, algorithms=[KEY_ALGORITHM])
    except (JoseError, ValueError):
        raise InvalidToken("the binding token is not one this server issued") from None
    claims = decoded.claims
    if decoded.header.get("typ") != BINDING_TYPE or claims.get("aud") != BINDING_AUDIENCE \
            or claims.get("iss") != ISSUER:
        raise InvalidToken("the token is not a websocket binding token")
    exp, jti, subs = claims.get("exp"), claims.get("jti"), claims.get("subscriptions")
    if not isinstance(exp, int) or exp <= time.time():
        raise InvalidToken("the binding token has expired")
    if not isinstance(jti, str) or not isinstance(subs, list) or not subs \
            or not all(isinstance(s, str) for s in subs):
        raise InvalidToken("the binding token names no subscription")
    return Binding(tuple(subs), _principal_from(claims.get("principal")), float(exp), jti)
