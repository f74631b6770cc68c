"""Access tokens: issued by /auth/token, signed with the server's key, verified once.

A verified token is cached by its exact string until it expires, because
verifying an RSA signature costs 70-140 microseconds (docs/performance.md) and a
client sends the same token for minutes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

from joserfc import jwt
from joserfc.errors import JoseError

from eolc_fhir.security.keys import KEY_ALGORITHM, SigningKeys
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.roles import ROLES
from eolc_fhir.security.scopes import Grants, ScopeError, parse_scopes, split_identity

__all__ = ["TokenService", "InvalidToken", "ISSUER"]

ISSUER = "urn:eolc-fhir"
_CACHE_LIMIT = 10_000

ReloadKeys = Callable[[], Awaitable[SigningKeys]]


class InvalidToken(Exception):
    """A bearer token that is malformed, forged, or expired."""


class TokenService:
    def __init__(self, keys: SigningKeys, lifetime: int, reload: ReloadKeys) -> None:
        self.keys = keys
        self.lifetime = lifetime
        self._reload = reload
        self._cache: dict[str, Principal] = {}
        self._last_reload = 0.0

    def issue(self, *, client_id: str, ods: str, role: str, grants: Grants,
              user: str | None = None, fhir_user: str | None = None,
              identity: tuple[str, ...] = ()) -> str:
        """An access token; with ``user``, a person's (role and ODS code are the person's)."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": ISSUER, "aud": ISSUER, "sub": user or client_id, "client_id": client_id,
            "iat": now, "exp": now + self.lifetime, "jti": uuid.uuid4().hex,
            "scope": " ".join((*identity, str(grants))).strip(), "role": role, "ods": ods,
        }
        if user is not None:
            claims.update(user=user, fhirUser=fhir_user)
        return self.sign(claims, "at+jwt")

    def sign(self, claims: dict[str, object], typ: str = "JWT") -> str:
        """Claims signed with the server's current key (access tokens, id_tokens, sessions)."""
        header = {"alg": KEY_ALGORITHM, "kid": self.keys.signing.kid, "typ": typ}
        return jwt.encode(header, claims, self.keys.signing, algorithms=[KEY_ALGORITHM])

    def signed_claims(self, token: str) -> dict[str, object] | None:
        """The claims of something ``sign`` made (any kept key), or None."""
        try:
            return dict(jwt.decode(token, self.keys.key_set, algorithms=[KEY_ALGORITHM]).claims)
        except (JoseError, ValueError):
            return None

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token; InvalidToken otherwise."""
        now = time.time()
        hit = self._cache.get(token)
        if hit is not None:
            if hit.expires_at > now:
                return hit
            del self._cache[token]
            raise InvalidToken("the access token has expired")
        principal = await self._verify_uncached(token, now)
        if len(self._cache) >= _CACHE_LIMIT:
            self._evict(now)
        self._cache[token] = principal
        return principal

    def _evict(self, now: float) -> None:
        for key in [k for k, p in self._cache.items() if p.expires_at <= now]:
            del self._cache[key]
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()

    async def _verify_uncached(self, token: str, now: float) -> Principal:
        try:
            decoded = jwt.decode(token, self.keys.key_set, algorithms=[KEY_ALGORITHM])
        except JoseError:
            # Another replica may have rotated the key: look again, at most every 10 s.
            if now - self._last_reload < 10:
                raise InvalidToken("the access token's signature does not verify") from None
            self._last_reload = now
            self.keys = await self._reload()
            try:
                decoded = jwt.decode(token, self.keys.key_set, algorithms=[KEY_ALGORITHM])
            except JoseError:
                raise InvalidToken("the access token's signature does not verify") from None
        return _principal(decoded.claims, now)


def _principal(claims: dict[str, object], now: float) -> Principal:
    exp = claims.get("exp")
    if claims.get("iss") != ISSUER or claims.get("aud") != ISSUER:
        raise InvalidToken("the access token was not issued by this server")
    if not isinstance(exp, int) or exp <= now:
        raise InvalidToken("the access token has expired")
    role, ods, client_id = claims.get("role"), claims.get("ods"), claims.get("client_id")
    if role not in ROLES or not isinstance(ods, str) or not isinstance(client_id, str):
        raise InvalidToken("the access token lacks client claims")
    try:
        grants = parse_scopes(split_identity(str(claims.get("scope", "")))[1], context=None)
    except ScopeError:
        raise InvalidToken("the access token carries an unknown scope") from None
    user, fhir_user = claims.get("user"), claims.get("fhirUser")
    return Principal(client_id, ods, str(role), grants, float(exp),
                     user if isinstance(user, str) else None,
                     fhir_user if isinstance(fhir_user, str) else None)
