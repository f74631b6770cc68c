"""Which webhook endpoints a Subscription may name, and how deliveries are signed."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
from collections.abc import Sequence
from urllib.parse import urlsplit

from eolc_fhir.fhir.errors import ProfileViolation

__all__ = ["check_endpoint", "is_loopback", "signature", "verify_signature", "retry_delay",
           "SIGNATURE_HEADER"]

SIGNATURE_HEADER = "X-Eolc-Signature"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_allowed(host: str, allowed: Sequence[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.lower()
        if host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def check_endpoint(url: str, *, insecure_dev: bool, allowed_hosts: Sequence[str]) -> None:
    """422 unless ``url`` is https (or http on loopback in insecure-dev) on an allowed host.

    ``allowed_hosts`` empty means any host; entries are host names or ``*.domain``.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    where = "Subscription.channel.endpoint"
    if not host or parts.username or parts.password:
        raise ProfileViolation(f"endpoint '{url}' is not an absolute URL without credentials",
                               code="business-rule", expression=where)
    if parts.scheme == "http" and insecure_dev and is_loopback(host):
        return  # trying the server locally: http on this machine only
    if parts.scheme != "https":
        raise ProfileViolation(
            f"endpoint '{url}': only https endpoints are allowed"
            + ("" if insecure_dev else " (http on loopback needs --insecure-dev)"),
            code="business-rule", expression=where)
    if allowed_hosts and not _host_allowed(host, allowed_hosts):
        raise ProfileViolation(f"endpoint host '{host}' is not in the allowed list",
                               code="business-rule", expression=where)


def signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(signature(secret, body), header.strip())


def retry_delay(failures: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": between half and all of base*2^(n-1), capped."""
    ceiling = min(cap, base * (2.0 ** max(0, min(failures - 1, 30))))
    spread = (rng or random).random()
    return ceiling / 2 + spread * ceiling / 2
