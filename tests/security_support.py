"""Security test support: an app with authentication ON, registered clients and their tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from eolc_fhir.app import create_app
from eolc_fhir.config import Settings
from eolc_fhir.security.assertion import ASSERTION_TYPE
from eolc_fhir.security.client_side import (
    PrivateKey,
    make_assertion,
    new_private_key,
    public_jwks,
)
from eolc_fhir.security.clients import new_client
from eolc_fhir.security.roles import ROLES
from eolc_fhir.storage.security_repo import SecurityRepository

__all__ = ["SecureApp", "secure_settings", "secure", "secure_app", "ODS_BY_ROLE", "TOKEN_URL",
           "FHIR"]

FHIR = "application/fhir+json"
TOKEN_URL = "http://test/auth/token"
ODS_BY_ROLE = {"gp": "Y01234", "hospital": "RH801", "hospice": "HSP01", "ambulance": "RYC01",
               "care-home": "VM1AB", "coordination-centre": "CC001", "admin": "EOLC1",
               "commissioner": "CCG01"}


@dataclass
class SecureApp:
    http: httpx.AsyncClient
    app: Any
    keys: dict[str, PrivateKey] = field(default_factory=dict)

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    async def register(self, client_id: str, role: str, *, ods: str | None = None,
                       scopes: str | None = None, kind: str = "EC") -> PrivateKey:
        key = new_private_key(kind)
        record = new_client(client_id=client_id, name=f"test {role}",
                            ods=ods or ODS_BY_ROLE[role], role=role, scopes=scopes,
                            jwks=public_jwks(key), jwks_uri=None)
        async with self.ctx.db.unit_of_work(write=True) as uow:
            assert await SecurityRepository(uow.connection, uow.dialect).add_client(record)
        self.keys[client_id] = key
        return key

    def form(self, client_id: str, scope: str, **claims: Any) -> dict[str, str]:
        return {"grant_type": "client_credentials", "scope": scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": make_assertion(client_id, self.keys[client_id], TOKEN_URL)}

    async def token(self, client_id: str, scope: str) -> str:
        response = await self.http.post("/auth/token", data=self.form(client_id, scope),
                                         headers={"Content-Type":
                                                  "application/x-www-form-urlencoded"})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def headers(self, role: str, scope: str | None = None,
                      client_id: str | None = None) -> dict[str, str]:
        """Bearer headers for a client of ``role`` (registered on first use)."""
        client_id = client_id or f"test-{role}"
        if client_id not in self.keys:
            await self.register(client_id, role)
        token = await self.token(client_id, scope or _scope_for(role))
        return {"Authorization": f"Bearer {token}", "Content-Type": FHIR}


def _scope_for(role: str) -> str:
    from eolc_fhir.security.roles import default_scopes

    assert role in ROLES
    return default_scopes(role)


@pytest.fixture
def secure_settings(migrated_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=migrated_url, base_url="http://test",
                    demo_keys_dir=tmp_path / "keys")


@asynccontextmanager
async def secure_app(settings: Settings) -> AsyncIterator[SecureApp]:
    """An app with these settings, its lifespan running, and a client for it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield SecureApp(http, app)


@pytest.fixture
async def secure(secure_settings: Settings) -> AsyncIterator[SecureApp]:
    async with secure_app(secure_settings) as app:
        yield app
