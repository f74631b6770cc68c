"""One webhook POST: headers, signature, timeout; redirects are never followed."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from eolc_fhir.subscriptions.endpoints import SIGNATURE_HEADER, signature
from eolc_fhir.subscriptions.spec import SubscriptionSpec

__all__ = ["Outcome", "post_notification", "request_headers"]


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None


def request_headers(spec: SubscriptionSpec, body: bytes) -> dict[str, str]:
    headers = {"Content-Type": "application/fhir+json"}
    for line in spec.headers:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    if spec.secret:
        headers[SIGNATURE_HEADER] = signature(spec.secret, body)
    return headers


async def post_notification(client: httpx.AsyncClient, spec: SubscriptionSpec,
                            body: bytes) -> Outcome:
    """2xx is success; anything else (a redirect included) is a failed delivery."""
    try:
        response = await client.post(spec.endpoint, content=body,
                                     headers=request_headers(spec, body),
                                     timeout=float(spec.timeout_seconds),
                                     follow_redirects=False)
    except httpx.HTTPError as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}".rstrip(": "))
    if 200 <= response.status_code < 300:
        return Outcome(True)
    if response.is_redirect:
        return Outcome(False, f"HTTP {response.status_code}: redirects are not followed")
    return Outcome(False, f"HTTP {response.status_code}")
