"""Registered client systems: checking a registration, and finding a client's public keys."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc import jwk

from eolc_fhir.fhir.ids import is_valid_id
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.security.roles import ROLES, default_scopes
from eolc_fhir.security.scopes import ScopeError, parse_scopes
from eolc_fhir.storage.security_repo import ClientRecord

__all__ = ["new_client", "key_set", "JwksCache", "ClientError", "CLIENT_ALGORITHMS"]

CLIENT_ALGORITHMS = ("RS384", "ES384")
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


def new_client(*, client_id: str, name: str, ods: str, role: str, scopes: str | None,
               jwks: dict[str, Any] | None, jwks_uri: str | None,
               rate_limit: int | None = None) -> ClientRecord:
    """A checked registration, ready to store; ClientError says what is wrong."""
    if not is_valid_id(client_id):  # it names Device/<id> in audits
        raise ClientError("client_id: 1-64 letters, digits, '.' or '-' (a FHIR id)")
    if not _ODS.match(ods):
        raise ClientError(f"'{ods}' is not an ODS code")
    if role not in ROLES:
        raise ClientError(f"role must be one of {', '.join(sorted(ROLES))}")
    if (jwks is None) == (jwks_uri is None):
        raise ClientError("give exactly one of a JWKS document or a jwks_uri")
    if jwks is not None:
        _check_jwks(jwks)
    if jwks_uri is not None and not jwks_uri.startswith(("https://", "http://")):
        raise ClientError("jwks_uri must be an http(s) URL")
    if rate_limit is not None and rate_limit < 0:
        raise ClientError("rate limit: requests per minute, 0 for none")
    text = scopes or default_scopes(role)
    try:
        grants = parse_scopes(text)
    except ScopeError as exc:
        raise ClientError(str(exc)) from None
    return ClientRecord(client_id, name, ods, role, str(grants),
                        json.dumps(jwks) if jwks is not None else None, jwks_uri, now_us(),
                        rate_limit)


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
