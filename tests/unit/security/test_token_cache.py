"""A verified access token is checked once: later uses are a dictionary lookup until it
expires (verifying the signature each time would cost 70-140 µs a request)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from eolc_fhir.security import tokens as tokens_module
from eolc_fhir.security.keys import SigningKeys, _new_record
from eolc_fhir.security.scopes import parse_scopes
from eolc_fhir.security.tokens import InvalidToken, TokenService


def _service(lifetime: int = 300) -> TokenService:
    async def reload() -> SigningKeys:
        raise AssertionError("no key reload expected")

    return TokenService(SigningKeys([_new_record()]), lifetime, reload)


def _counting_decode(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = tokens_module.jwt.decode

    def decode(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tokens_module.jwt, "decode", decode)
    return calls


def test_a_token_s_signature_is_verified_once(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _service()
    token = service.issue(client_id="crew-app", ods="RYC01", role="ambulance",
                          grants=parse_scopes("system/Patient.rs"))
    calls = _counting_decode(monkeypatch)

    async def use(times: int) -> list[str]:
        return [(await service.verify(token)).client_id for _ in range(times)]

    assert asyncio.run(use(50)) == ["crew-app"] * 50
    assert len(calls) == 1


def test_a_cached_token_is_refused_once_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    service = _service()
    token = service.issue(client_id="crew-app", ods="RYC01", role="ambulance",
                          grants=parse_scopes("system/Patient.rs"))
    principal = asyncio.run(service.verify(token))
    calls = _counting_decode(monkeypatch)
    now = principal.expires_at + 1
    monkeypatch.setattr(tokens_module.time, "time", lambda: now)
    with pytest.raises(InvalidToken, match="expired"):
        asyncio.run(service.verify(token))
    assert calls == []  # refused from the cache entry, without verifying again
