"""The security layer's long-lived parts, built once at start: keys, tokens, caches, limits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from eolc_fhir.config import Settings
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.security.audit import AuditWriter
from eolc_fhir.security.clients import JwksCache
from eolc_fhir.security.keys import load_keys
from eolc_fhir.security.ratelimit import RateLimiter
from eolc_fhir.security.tokens import TokenService
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.security_repo import ClientRecord, Origin

__all__ = ["SecurityState", "start_security"]

_WITHDRAWN_TTL = 2.0  # seconds another replica's consent change may take to reach us


@dataclass
class SecurityState:
    settings: Settings
    db: Database
    tokens: TokenService
    jwks: JwksCache
    limiter: RateLimiter
    http: httpx.AsyncClient
    audit: AuditWriter | None = None  # set at start (services/audit_trail.py)
    _withdrawn: tuple[float, frozenset[str]] = field(default=(0.0, frozenset()))

    async def find_client(self, client_id: str) -> ClientRecord | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.security.get_client(client_id)

    async def use_jti(self, client_id: str, jti: str, exp: int) -> bool:
        async with self.db.unit_of_work(write=True) as uow:
            return await uow.security.use_jti(client_id, jti, exp * 1_000_000, now_us())

    async def withdrawn_patients(self) -> frozenset[str]:
        """Patients who withdrew consent to share; cached for a couple of seconds."""
        until, patients = self._withdrawn
        if until > time.monotonic():
            return patients
        async with self.db.unit_of_work(write=False) as uow:
            found = frozenset(await uow.security.withdrawn_patients())
        self._withdrawn = (time.monotonic() + _WITHDRAWN_TTL, found)
        return found

    async def origins(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Origin]:
        """Who recorded each (type, id), and whose record it is, in a transaction of its own."""
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.security.origins(keys)

    def forget_withdrawn(self) -> None:
        """Our own write changed a consent: look again on the next request."""
        self._withdrawn = (0.0, frozenset())

    async def close(self) -> None:
        await self.http.aclose()


async def start_security(settings: Settings, db: Database) -> SecurityState:
    keys = await load_keys(db)
    http = httpx.AsyncClient(timeout=httpx.Timeout(5.0), follow_redirects=False)

    async def fetch(url: str) -> dict[str, Any]:
        response = await http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    async def reload() -> Any:
        return await load_keys(db, create=False)

    return SecurityState(
        settings=settings,
        db=db,
        tokens=TokenService(keys, settings.token_lifetime, reload),
        jwks=JwksCache(fetch),
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
        http=http,
    )
