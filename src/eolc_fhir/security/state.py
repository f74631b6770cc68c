"""The security layer's long-lived parts, built once at start: keys, tokens, caches, limits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from eolc_fhir.config import Settings
from eolc_fhir.fhir.errors import FhirError
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.security.audit import AuditWriter
from eolc_fhir.security.clients import JwksCache
from eolc_fhir.security.external_oidc import ExternalProvider
from eolc_fhir.security.keys import load_keys
from eolc_fhir.security.ratelimit import WINDOW_SLOTS, RateLimiter, SharedWindow
from eolc_fhir.security.tokens import TokenService
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.security_repo import ClientRecord, Origin

__all__ = ["SecurityState", "start_security"]

log = logging.getLogger("eolc_fhir.security")

_WITHDRAWN_TTL = 2.0  # seconds another replica's consent change may take to reach us
_PRACTICE_TTL = 2.0  # seconds another replica's change of a person's practice may take
_PRACTICE_KEEP = 50_000  # people whose practice is kept at most (then it starts again)
_LIMIT_TTL = 30.0  # seconds a client's changed rate limit may take to apply everywhere


@dataclass
class SecurityState:
    settings: Settings
    db: Database
    tokens: TokenService
    jwks: JwksCache
    limiter: RateLimiter
    http: httpx.AsyncClient
    audit: AuditWriter | None = None  # set at start (services/audit_trail.py)
    external: ExternalProvider | None = None  # EOLC_OIDC_ISSUER: people sign in there
    _withdrawn: tuple[float, frozenset[str]] = field(default=(0.0, frozenset()))
    _withdrawn_refresh: asyncio.Future[frozenset[str]] | None = None
    _consent_writes: int = 0  # forget_withdrawn calls: a read begun before one is stale
    _limits: dict[str, tuple[float, int]] = field(default_factory=dict)
    _limit_reads: dict[str, asyncio.Future[int]] = field(default_factory=dict)
    _practices: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)
    _sharing: asyncio.Task[None] | None = None

    async def rate_limit_of(self, client_id: str) -> int:
        """The client's requests per minute (its own, else the default); read from the
        database at most every 30 s per client, by one read that the client's requests
        arriving meanwhile share, and the last value kept while it fails."""
        kept = self._limits.get(client_id)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        reading = self._limit_reads.get(client_id)
        if reading is None:
            reading = self._limit_reads[client_id] = asyncio.ensure_future(
                self._read_limit(client_id, kept))
            reading.add_done_callback(lambda _done: self._limit_reads.pop(client_id, None))
        return await asyncio.shield(reading)

    async def _read_limit(self, client_id: str, kept: tuple[float, int] | None) -> int:
        default = self.settings.rate_limit_per_minute
        try:
            async with self.db.unit_of_work(write=False) as uow:
                _, own = await uow.security.rate_limit(client_id)
        except FhirError:  # e.g. 503: keep limiting with what we knew
            return kept[1] if kept is not None else default
        limit = default if own is None else own
        self._limits[client_id] = (time.monotonic() + _LIMIT_TTL, limit)
        return limit

    async def find_client(self, client_id: str) -> ClientRecord | None:
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.security.get_client(client_id)

    async def use_jti(self, client_id: str, jti: str, exp: int) -> bool:
        async with self.db.unit_of_work(write=True) as uow:
            return await uow.security.use_jti(client_id, jti, exp * 1_000_000, now_us())

    async def withdrawn_patients(self) -> frozenset[str]:
        """Patients who withdrew consent to share; cached for a couple of seconds.

        One refresh at a time: requests that find the set expired while another is
        reading it wait for that read instead of each running their own."""
        until, patients = self._withdrawn
        if until > time.monotonic():
            return patients
        refresh = self._withdrawn_refresh
        if refresh is None:
            refresh = self._withdrawn_refresh = asyncio.ensure_future(self._read_withdrawn())
            refresh.add_done_callback(self._refreshed)
        return await asyncio.shield(refresh)

    async def _read_withdrawn(self) -> frozenset[str]:
        began = self._consent_writes
        async with self.db.unit_of_work(write=False) as uow:
            found = frozenset(await uow.security.withdrawn_patients())
        if began == self._consent_writes:
            self._withdrawn = (time.monotonic() + _WITHDRAWN_TTL, found)
        return found

    def _refreshed(self, refresh: asyncio.Future[frozenset[str]]) -> None:
        if self._withdrawn_refresh is refresh:
            self._withdrawn_refresh = None
        if not refresh.cancelled():
            refresh.exception()  # retrieved: a failure reaches the waiters, not the loop log

    async def withdrawn_among(self, patient_ids: set[str]) -> frozenset[str]:
        """Which of these patients withdrew consent, read now (not cached)."""
        return frozenset(await self.db.withdrawn_among(patient_ids))

    async def origins(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Origin]:
        """Who recorded each (type, id), and whose record it is, in a transaction of its own."""
        async with self.db.unit_of_work(write=False) as uow:
            return await uow.security.origins(keys)

    async def practices(self, patient_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        """Each patient's GP practice ODS codes (empty: none known); kept a couple of
        seconds, so a page of results about a few people costs at most one indexed query."""
        now = time.monotonic()
        found: dict[str, frozenset[str]] = {}
        wanted = []
        for pid in set(patient_ids):
            kept = self._practices.get(pid)
            if kept is not None and kept[0] > now:
                found[pid] = kept[1]
            else:
                wanted.append(pid)
        if wanted:
            async with self.db.unit_of_work(write=False) as uow:
                read = await uow.security.practices_of(wanted)
            if len(self._practices) > _PRACTICE_KEEP:
                self._practices.clear()
            for pid in wanted:
                codes = frozenset(read.get(pid, ()))
                found[pid] = codes
                self._practices[pid] = (now + _PRACTICE_TTL, codes)
        return found

    def forget_practices(self) -> None:
        """Our own write changed a Patient or an Organization: look again."""
        self._practices.clear()

    def forget_withdrawn(self) -> None:
        """Our own write changed a consent: look again on the next request (a read already
        under way may have begun before the write: it is neither kept nor joined)."""
        self._consent_writes += 1
        self._withdrawn = (0.0, frozenset())
        self._withdrawn_refresh = None

    def share_rate_counts(self) -> None:
        """PostgreSQL: one count per client for every process (security/ratelimit.py)."""
        self.limiter.shared = SharedWindow()
        self._sharing = asyncio.create_task(self._share_forever(self.limiter.shared),
                                            name="eolc-rate-limit-window")

    async def _share_forever(self, window: SharedWindow) -> None:
        purged = 0
        while True:
            await asyncio.sleep(self.settings.rate_limit_sync_seconds)
            counts, watched, slot = window.start_sync()
            if not counts and not watched:
                continue
            try:
                async with self.db.unit_of_work(write=True) as uow:
                    totals = await uow.security.add_to_rate_windows(counts, watched, slot,
                                                                    WINDOW_SLOTS)
                    if slot != purged:
                        await uow.security.forget_rate_windows(slot - 2 * WINDOW_SLOTS)
                        purged = slot
            except Exception as exc:  # noqa: BLE001 - never stop: local buckets still limit
                log.warning("rate limit counts not shared this time (%s)", type(exc).__name__)
                window.failed_sync()
                continue
            window.finish_sync(totals)

    async def close(self) -> None:
        task, self._sharing = self._sharing, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
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

    state = SecurityState(
        settings=settings,
        db=db,
        tokens=TokenService(keys, settings.token_lifetime, reload),
        jwks=JwksCache(fetch),
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst),
        http=http,
    )
    if settings.oidc_issuer and settings.oidc_client_id:
        state.external = ExternalProvider(settings, http, db)
    if not db.embedded:
        state.share_rate_counts()
    return state
