"""Webhook POSTs: headers, signature, timeout; redirects are never followed.

The delivery path uses aiohttp, not httpx: with 100 subscribers in flight on this
2-core machine, httpx carried 495-1,300 POSTs/s and aiohttp 6,500-15,000
(``python -m bench.webhook_client_bench``; docs/performance.md). The
API's own clients and tests keep httpx.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from eolc_fhir.subscriptions.endpoints import SIGNATURE_HEADER, signature
from eolc_fhir.subscriptions.spec import SubscriptionSpec

__all__ = ["Outcome", "WebhookClient", "request_headers"]

_CONNECT_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None


def request_headers(spec: SubscriptionSpec, body: bytes) -> dict[str, str]:
    # An empty classic ping carries no body and so no type.
    headers = {"Content-Type": "application/fhir+json"} if body else {}
    for line in spec.headers:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    if spec.secret:
        headers[SIGNATURE_HEADER] = signature(spec.secret, body)
    return headers


class WebhookClient:
    """One connection pool for every delivery; ``start()`` inside the running loop."""

    def __init__(self, max_connections: int, ca_file: Path | None = None) -> None:
        self._max_connections = max_connections
        self._ca_file = ca_file
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # The system's CAs always; a private CA's certificates besides, when configured.
        tls: ssl.SSLContext | bool = True
        if self._ca_file is not None:
            tls = ssl.create_default_context()
            tls.load_verify_locations(cafile=str(self._ca_file))
        connector = aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0,
                                         ssl=tls)
        # No proxies from the environment, no cookies kept between subscribers.
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                              cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post(self, spec: SubscriptionSpec, body: bytes) -> Outcome:
        """2xx is success; anything else (a redirect included) is a failed delivery."""
        return await self.send(spec, "POST", spec.endpoint, body)

    async def send_all(self, spec: SubscriptionSpec,
                       requests: list[tuple[str, str, bytes]]) -> Outcome:
        """Several requests in order (a classic rest-hook); stops at the first failure."""
        for method, url, body in requests:
            outcome = await self.send(spec, method, url, body)
            if not outcome.ok:
                return outcome
        return Outcome(True)

    async def send(self, spec: SubscriptionSpec, method: str, url: str,
                   body: bytes) -> Outcome:
        assert self._session is not None, "WebhookClient.start() first"
        timeout = aiohttp.ClientTimeout(total=float(spec.timeout_seconds),
                                        connect=min(_CONNECT_SECONDS,
                                                    float(spec.timeout_seconds)))
        try:
            async with self._session.request(method, url, data=body,
                                             headers=request_headers(spec, body),
                                             allow_redirects=False,
                                             timeout=timeout) as response:
                await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            name = "Timeout" if isinstance(exc, TimeoutError) else type(exc).__name__
            return Outcome(False, f"{name}: {exc}".rstrip(": "))
        if 200 <= status < 300:
            return Outcome(True)
        if 300 <= status < 400:
            return Outcome(False, f"HTTP {status}: redirects are not followed")
        return Outcome(False, f"HTTP {status}")
