"""SMART Backend Services: discovery, the token endpoint and every refusal it owes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from joserfc import jwk, jwt

from eolc_fhir.security.client_side import make_assertion
from eolc_fhir.security.clients import JwksCache
from tests.security_support import TOKEN_URL, SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]  # fixtures used by this module

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _assertion(key: Any, client_id: str, *, alg: str = "ES384", **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": TOKEN_URL, "exp": now + 120,
              "jti": uuid.uuid4().hex, **overrides}
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


async def _post(secure: SecureApp, assertion: str, scope: str = "system/*.rs",
                **fields: str) -> Any:
    form = {"grant_type": "client_credentials", "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion, **fields}
    return await secure.http.post("/auth/token", data=form, headers=FORM)


async def test_smart_configuration_names_the_token_endpoint(secure: SecureApp) -> None:
    response = await secure.http.get("/.well-known/smart-configuration")
    assert response.status_code == 200
    config = response.json()
    assert config["token_endpoint"] == TOKEN_URL
    # authorization_code and "none" (public apps with PKCE): tests/api/test_smart_signin.py
    assert config["grant_types_supported"] == ["client_credentials", "authorization_code"]
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt", "none"]
    assert set(config["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
    jwks = (await secure.http.get("/.well-known/jwks.json")).json()
    assert jwks["keys"] and "d" not in jwks["keys"][0]


@pytest.mark.parametrize("kind", ["EC", "RSA"])
async def test_a_registered_client_gets_a_short_lived_token(secure: SecureApp, kind: str) -> None:
    key = await secure.register("client-1", "gp", kind=kind)
    response = await _post(secure, make_assertion("client-1", key, TOKEN_URL),
                           scope="system/CarePlan.rs system/Patient.read")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 300
    assert body["scope"] == "system/CarePlan.rs system/Patient.read"
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], secure.ctx.security.tokens.keys.key_set,
                        algorithms=["RS384"]).claims
    assert (claims["client_id"], claims["role"], claims["ods"]) == ("client-1", "gp", "Y01234")
    assert claims["exp"] - claims["iat"] == 300


async def _refusal(response: Any, error: str, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.json()["error_description"]


async def test_unknown_client_is_refused(secure: SecureApp) -> None:
    key = jwk.ECKey.generate_key("P-384", parameters={"kid": "k"})
    await _refusal(await _post(secure, _assertion(key, "nobody")), "invalid_client", 401)


async def test_bad_signature_is_refused(secure: SecureApp) -> None:
    await secure.register("client-1", "gp")
    impostor = jwk.ECKey.generate_key("P-384", parameters={"kid": secure.keys["client-1"].kid})
    await _refusal(await _post(secure, _assertion(impostor, "client-1")), "invalid_client", 401)


@pytest.mark.parametrize("claims", [
    {"aud": "http://elsewhere/auth/token"},
    {"exp": int(time.time()) - 60},
    {"exp": int(time.time()) + 900},
    {"exp": None},
    {"jti": None},
    {"sub": "someone-else"},
], ids=["wrong-aud", "expired", "exp-too-far", "no-exp", "no-jti", "sub-not-iss"])
async def test_bad_claims_are_refused(secure: SecureApp, claims: dict[str, Any]) -> None:
    key = await secure.register("client-1", "gp")
    response = await _post(secure, _assertion(key, "client-1", **claims))
    await _refusal(response, "invalid_client", 401)


async def test_a_reused_jti_is_refused(secure: SecureApp) -> None:
    key = await secure.register("client-1", "gp")
    assertion = _assertion(key, "client-1", jti="once-only")
    assert (await _post(secure, assertion)).status_code == 200
    await _refusal(await _post(secure, assertion), "invalid_client", 401)


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    import base64
    import json

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return ".".join([part(json.dumps(header).encode()), part(json.dumps(claims).encode()),
                     part(signature)])


async def test_alg_none_and_hmac_are_refused(secure: SecureApp) -> None:
    await secure.register("client-1", "gp")
    claims = {"iss": "client-1", "sub": "client-1", "aud": TOKEN_URL,
              "exp": int(time.time()) + 60, "jti": uuid.uuid4().hex}
    await _refusal(await _post(secure, _unsigned({"alg": "none"}, claims)), "invalid_client", 401)
    secret = jwk.OctKey.import_key("s" * 48)
    hmac = jwt.encode({"alg": "HS256"}, claims, secret, algorithms=["HS256"])
    await _refusal(await _post(secure, hmac), "invalid_client", 401)


async def test_scope_beyond_the_clients_is_refused(secure: SecureApp) -> None:
    key = await secure.register("reader", "ambulance", scopes="system/*.rs")
    response = await _post(secure, _assertion(key, "reader"), scope="system/CarePlan.cruds")
    await _refusal(response, "invalid_scope", 400)
    response = await _post(secure, _assertion(key, "reader"), scope="launch/patient")
    await _refusal(response, "invalid_scope", 400)


async def test_form_errors(secure: SecureApp) -> None:
    key = await secure.register("client-1", "gp")
    response = await _post(secure, _assertion(key, "client-1"), grant_type="password")
    await _refusal(response, "unsupported_grant_type", 400)
    response = await _post(secure, _assertion(key, "client-1"), client_assertion_type="x")
    await _refusal(response, "invalid_request", 400)
    await _refusal(await _post(secure, "not.a.jwt"), "invalid_client", 401)


async def test_a_client_registered_with_a_jwks_uri(secure: SecureApp) -> None:
    from eolc_fhir.security.client_side import new_private_key, public_jwks
    from eolc_fhir.security.clients import new_client
    from eolc_fhir.storage.security_repo import SecurityRepository

    key = new_private_key("RSA")
    fetched: list[str] = []

    async def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return public_jwks(key)

    secure.ctx.security.jwks = JwksCache(fetch)
    record = new_client(client_id="remote", name="r", ods="RH801", role="hospital", scopes=None,
                        jwks=None, jwks_uri="https://keys.example.org/jwks.json")
    async with secure.ctx.db.unit_of_work() as uow:
        await SecurityRepository(uow.connection, uow.dialect).add_client(record)
    for _ in range(2):
        response = await _post(secure, make_assertion("remote", key, TOKEN_URL))
        assert response.status_code == 200, response.text
    assert fetched == ["https://keys.example.org/jwks.json"]  # fetched once, then cached


async def test_fhir_endpoints_need_a_valid_token(secure: SecureApp) -> None:
    response = await secure.http.get("/Patient")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["resourceType"] == "OperationOutcome"
    for bad in ("Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer " + _unsigned(
            {"alg": "RS384"}, {"iss": "urn:eolc-fhir"}, b"x")):
        response = await secure.http.get("/Patient", headers={"Authorization": bad})
        assert response.status_code == 401, bad
        assert response.json()["issue"][0]["code"] == "login"
    # /metadata and discovery stay public
    assert (await secure.http.get("/metadata")).status_code == 200


async def test_an_expired_access_token_is_refused(secure: SecureApp) -> None:
    headers = await secure.headers("gp")
    assert (await secure.http.get("/Patient", headers=headers)).status_code == 200
    tokens = secure.ctx.security.tokens
    tokens.lifetime = -1  # issue one that is already past its exp
    stale = await secure.headers("gp")
    response = await secure.http.get("/Patient", headers=stale)
    assert response.status_code == 401
    assert "expired" in response.json()["issue"][0]["diagnostics"]


async def test_a_token_from_another_server_is_refused(secure: SecureApp) -> None:
    other = jwk.RSAKey.generate_key(2048, parameters={"kid": "other"})
    now = int(time.time())
    forged = jwt.encode({"alg": "RS384", "kid": "other"}, {
        "iss": "urn:eolc-fhir", "aud": "urn:eolc-fhir", "client_id": "x", "role": "admin",
        "ods": "X1", "scope": "system/*.cruds", "exp": now + 60}, other, algorithms=["RS384"])
    response = await secure.http.get("/Patient", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


async def test_keys_rotate_and_old_tokens_stay_valid(secure: SecureApp) -> None:
    from eolc_fhir.security.keys import load_keys, rotate_keys

    headers = await secure.headers("gp")
    await rotate_keys(secure.ctx.db)
    security = secure.ctx.security
    security.tokens.keys = await load_keys(secure.ctx.db)
    security.tokens._cache.clear()
    assert (await secure.http.get("/Patient", headers=headers)).status_code == 200
    fresh = await secure.headers("gp")
    assert fresh != headers
    assert (await secure.http.get("/Patient", headers=fresh)).status_code == 200
