"""Sign-in at an external OpenID Connect provider instead of local accounts.

The provider is found by its issuer URL (``/.well-known/openid-configuration``).
``begin`` makes the authorization request (authlib's client-side OAuth 2.0
functions; PKCE S256, ``state`` and ``nonce``) and what must be kept until the
browser comes back; ``finish`` redeems the code over the shared httpx client,
verifies the id_token (signature by the provider's JWKS, ``iss``, ``aud``,
``exp``, ``nonce``) and maps its subject to a person: a local account with the
same username (its role and ODS code), else the role and ODS claims named in
the settings. Anything else is ``SignInRefused``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwk, jwt
from joserfc.errors import JoseError

from eolc_fhir.config import Settings
from eolc_fhir.security.roles import ROLES
from eolc_fhir.security.users import ODS_CODE, Person, SignInRefused, person_of
from eolc_fhir.storage.database import Database

__all__ = ["ExternalProvider", "Pending"]

_ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
_DISCOVERY_TTL = 3600.0


@dataclass(frozen=True)
class Pending:
    """What the server keeps (in a signed cookie) while the person is at the provider."""

    state: str
    nonce: str
    verifier: str
    request: dict[str, str]  # the app's own authorization request


class ExternalProvider:
    def __init__(self, settings: Settings, http: httpx.AsyncClient, db: Database) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.settings, self.http, self.db = settings, http, db
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._discovered: tuple[float, dict[str, Any]] | None = None

    async def _discovery(self) -> dict[str, Any]:
        if self._discovered is not None and self._discovered[0] > time.monotonic():
            return self._discovered[1]
        response = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise SignInRefused()  # a provider that does not say it is the one configured
        self._discovered = (time.monotonic() + _DISCOVERY_TTL, document)
        return document

    async def begin(self, request: dict[str, str], callback: str) -> tuple[str, Pending]:
        """(where to send the browser, what to keep until it comes back)."""
        document = await self._discovery()
        pending = Pending(generate_token(32), generate_token(32), generate_token(64), request)
        url = prepare_grant_uri(
            document["authorization_endpoint"], self.settings.oidc_client_id, "code",
            redirect_uri=callback, scope=self.settings.oidc_scope, state=pending.state,
            nonce=pending.nonce, code_challenge=create_s256_code_challenge(pending.verifier),
            code_challenge_method="S256", aud=self.issuer)
        return str(url), pending

    async def finish(self, code: str, pending: Pending, callback: str) -> Person:
        document = await self._discovery()
        body = prepare_token_request(
            "authorization_code", code=code, redirect_uri=callback,
            client_id=self.settings.oidc_client_id, code_verifier=pending.verifier,
            **({"client_secret": self.settings.oidc_client_secret}
               if self.settings.oidc_client_secret else {}))
        response = await self.http.post(
            document["token_endpoint"], content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json"})
        id_token = response.json().get("id_token") if response.status_code == 200 else None
        if not isinstance(id_token, str):
            raise SignInRefused()
        claims = await self._verified(id_token, document, pending.nonce)
        return await self._person(claims)

    async def _verified(self, id_token: str, document: dict[str, Any],
                        nonce: str) -> dict[str, Any]:
        keys = await self.http.get(document["jwks_uri"])
        try:
            key_set = jwk.KeySet.import_key_set(keys.json())
            claims = dict(jwt.decode(id_token, key_set, algorithms=_ID_TOKEN_ALGORITHMS).claims)
        except (JoseError, ValueError, json.JSONDecodeError):
            raise SignInRefused() from None
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        exp = claims.get("exp")
        if str(claims.get("iss", "")).rstrip("/") != self.issuer or \
                self.settings.oidc_client_id not in audiences or \
                not isinstance(exp, int) or exp <= time.time() or claims.get("nonce") != nonce:
            raise SignInRefused()
        return claims

    async def _person(self, claims: dict[str, Any]) -> Person:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            raise SignInRefused()
        fhir_user = claims.get("fhirUser") if isinstance(claims.get("fhirUser"), str) else None
        async with self.db.unit_of_work(write=False) as uow:
            user = await uow.people.get_user(subject)
        if user is not None:
            if user.disabled:
                raise SignInRefused()
            local = person_of(user)
            return Person(local.username, local.role, local.ods, local.sds_user_id, False,
                          fhir_user)
        role = claims.get(self.settings.oidc_role_claim)
        ods = claims.get(self.settings.oidc_ods_claim)
        if role not in ROLES or not isinstance(ods, str) or not ODS_CODE.match(ods):
            raise SignInRefused()
        return Person(subject, str(role), ods, None, False, fhir_user)
