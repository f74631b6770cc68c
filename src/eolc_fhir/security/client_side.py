"""The client's side of SMART Backend Services: key files, assertions, asking for a token.

Used by ``eolc-fhir token`` and the demo clients; a real client system does
the same with its own key.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwk, jwt
from joserfc.errors import JoseError

from eolc_fhir.security.assertion import ASSERTION_TYPE

__all__ = ["new_private_key", "write_key_file", "read_key_file", "make_assertion",
           "request_token", "public_jwks"]

PrivateKey = jwk.RSAKey | jwk.ECKey


def new_private_key(kind: str = "EC") -> PrivateKey:
    """A client key: EC P-384 for ES384, or RSA 2048 for RS384. Its kid is its RFC 7638
    thumbprint, so the same key read back from a PEM file (which holds no kid) keeps it."""
    key: PrivateKey
    if kind == "RSA":
        key = jwk.RSAKey.generate_key(2048, parameters={"alg": "RS384", "use": "sig"})
    else:
        key = jwk.ECKey.generate_key("P-384", parameters={"alg": "ES384", "use": "sig"})
    key.ensure_kid()
    return key


def public_jwks(key: PrivateKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def write_key_file(path: Path, key: PrivateKey) -> None:
    """Write a private JWK readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(key.as_dict(private=True), handle, indent=2)


def read_key_file(path: Path) -> PrivateKey:
    """A private key from a JWK (JSON) or PEM file; ValueError when it is neither."""
    text = path.read_text()
    if not text.lstrip().startswith("-----BEGIN"):
        data = json.loads(text)
        if data.get("kty") == "RSA":
            return jwk.RSAKey.import_key(data)
        return jwk.ECKey.import_key(data)
    key: PrivateKey
    try:
        key = jwk.RSAKey.import_key(text)
    except (JoseError, ValueError):  # ValueError: PEM that cryptography cannot read
        try:
            key = jwk.ECKey.import_key(text)
        except (JoseError, ValueError):
            raise ValueError(f"{path} holds no RSA or EC key") from None
    if not key.is_private:
        raise ValueError(f"{path} holds a public key; the private key is needed to sign")
    key.ensure_kid()  # the thumbprint, as new_private_key gave it
    return key


def make_assertion(client_id: str, key: PrivateKey, token_url: str,
                   lifetime: int = 240) -> str:
    now = int(time.time())
    alg = "RS384" if isinstance(key, jwk.RSAKey) else "ES384"
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + lifetime,
              "iat": now, "jti": uuid.uuid4().hex}
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def request_token(base_url: str, client_id: str, key: PrivateKey, scope: str) -> dict[str, Any]:
    """Discover the token endpoint, send a fresh assertion, return the token response.

    RuntimeError, in one line, when the server cannot be reached or does not answer
    like an eolc-fhir server.
    """
    discovery = f"{base_url.rstrip('/')}/.well-known/smart-configuration"
    try:
        with httpx.Client(timeout=10.0) as http:
            token_url = _token_endpoint(http.get(discovery), discovery)
            response = http.post(token_url, data={
                "grant_type": "client_credentials", "scope": scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": make_assertion(client_id, key, token_url),
            })
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise RuntimeError(f"cannot reach {base_url} ({type(exc).__name__}: {exc}); "
                           "is the server running? (--url)") from None
    answer = _json_object(response, token_url)
    if response.status_code != 200:
        raise RuntimeError(f"{answer.get('error')}: {answer.get('error_description')}")
    return answer


def _token_endpoint(response: httpx.Response, url: str) -> str:
    endpoint = _json_object(response, url).get("token_endpoint")
    if response.status_code != 200 or not isinstance(endpoint, str):
        raise RuntimeError(f"{url} answered {response.status_code} without a token_endpoint: "
                           "is --url the base URL of an eolc-fhir server?")
    return endpoint


def _json_object(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise RuntimeError(f"{url} answered {response.status_code} with something other than "
                           "JSON: is --url the base URL of an eolc-fhir server?")
    return value
