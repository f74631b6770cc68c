"""Registered client systems: checking a registration, and finding a client's public keys."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from joserfc import jwk

from eolc_fhir.fhir.ids import is_valid_id
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.security.roles import ROLES, default_scopes
from eolc_fhir.security.scopes import ScopeError, parse_scopes, split_identity
from eolc_fhir.storage.security_repo import ClientRecord

__all__ = ["new_client", "key_set", "JwksCache", "ClientError", "CLIENT_ALGORITHMS",
           "PUBLIC_APP_SCOPES"]

CLIENT_ALGORITHMS = ("RS384", "ES384")
# What a public app may ask for when registered without scopes: each person's role narrows it.
PUBLIC_APP_SCOPES = "user/*.cruds"
_ODS = re.compile(r"^[A-Z0-9]{3,10}$")
_PRIVATE_PARTS = {"d", "p", "q", "dp", "dq", "qi", "k"}

Fetcher = Callable[[str], Awaitable[dict[str, Any]]]


class ClientError(ValueError):
    """A registration that cannot be accepted."""


def _check_jwks(document: dict[str, Any]) -> None:
    keys = document.get("keys")
    if not isinstance(keys, list) or not keys:
        raise ClientError("the JWKS has no keys")
    for key in keys:
        if _PRIVATE_PARTS & set(key):
            raise ClientError("the JWKS contains private key material: register public keys only")
        if key.get("kty") not in ("RSA", "EC"):
            raise ClientError(f"key type {key.get('kty')!r} is not supported (RSA or EC)")
    key_set(document)


def _check_redirect(uri: str) -> None:
    parts = urlsplit(uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ClientError(f"redirect URI {uri!r}: https (http only on this machine's loopback)")
    if parts.fragment or not parts.netloc or " " in uri:
        raise ClientError(f"redirect URI {uri!r}: an absolute URL without a fragment")


def _check_public(ods: str, role: str, redirect_uris: list[str]) -> None:
    if not redirect_uris:
        raise ClientError("a public app needs at least one redirect URI")
    if ods and not _ODS.match(ods) or role and role not in ROLES:
        raise ClientError("a public app's ODS code and role, if given, must be valid")


def new_client(*, client_id: str, name: str, ods: str, role: str, scopes: str | None,
               jwks: dict[str, Any] | None, jwks_uri: str | None,
               rate_limit: int | None = None, redirect_uris: list[str] | None = None,
               public: bool = False) -> ClientRecord:
    """A checked registration, ready to store; ClientError says what is wrong.

    A public app (``public``: no keys) signs people in with PKCE alone; its people's
    roles and ODS codes are theirs, so its own may be empty."""
    if not is_valid_id(client_id):  # it names Device/<id> in audits
        raise ClientError("client_id: 1-64 letters, digits, '.' or '-' (a FHIR id)")
    for uri in redirect_uris or []:
        _check_redirect(uri)
    if public:
        if jwks is not None or jwks_uri is not None:
            raise ClientError("a public app has no keys (no JWKS, no jwks_uri)")
        _check_public(ods, role, redirect_uris or [])
    elif not _ODS.match(ods):
        raise ClientError(f"'{ods}' is not an ODS code")
    elif role not in ROLES:
        raise ClientError(f"role must be one of {', '.join(sorted(ROLES))}")
    elif (jwks is None) == (jwks_uri is None):
        raise ClientError("give exactly one of a JWKS document or a jwks_uri")
    if jwks is not None:
        _check_jwks(jwks)
    if jwks_uri is not None and not jwks_uri.startswith(("https://", "http://")):
        raise ClientError("jwks_uri must be an http(s) URL")
    if rate_limit is not None and rate_limit < 0:
        raise ClientError("rate limit: requests per minute, 0 for none")
    text = scopes or (PUBLIC_APP_SCOPES if public else default_scopes(role))
    try:
        grants = parse_scopes(split_identity(text)[1], context=None)
    except ScopeError as exc:
        raise ClientError(str(exc)) from None
    return ClientRecord(client_id, name, ods, role, str(grants),
                        json.dumps(jwks) if jwks is not None else None, jwks_uri, now_us(),
                        rate_limit, " ".join(redirect_uris) if redirect_uris else None, public)


def key_set(document: dict[str, Any]) -> jwk.KeySet:
    return jwk.KeySet.import_key_set(document)  # type: ignore[arg-type]


class JwksCache:
    """Key sets of clients registered with a jwks_uri, fetched and kept for ``ttl`` seconds."""

    def __init__(self, fetch: Fetcher, ttl: float = 3600.0) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._cache: dict[str, tuple[float, jwk.KeySet]] = {}

    async def keys_for(self, client: ClientRecord, *, refresh: bool = False) -> jwk.KeySet:
        if client.jwks is not None:
            return key_set(json.loads(client.jwks))
        assert client.jwks_uri is not None
        hit = self._cache.get(client.jwks_uri)
        if hit is not None and not refresh and hit[0] > time.monotonic():
            return hit[1]
        keys = key_set(await self._fetch(client.jwks_uri))
        self._cache[client.jwks_uri] = (time.monotonic() + self._ttl, keys)
        return keys
