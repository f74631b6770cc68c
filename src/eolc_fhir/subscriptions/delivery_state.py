"""The server's delivery-state extension on a $status answer: backlog, last delivery, retries.

The Backport IG's SubscriptionStatus says how many events a Subscription has had
(``events-since-subscription-start``) and, in error, why (``error``); whoever runs
the service also needs how far delivery has got. That goes in one complex
extension on the ``status`` parameter (a Parameters resource has no extension of
its own), so an IG client that does not know it reads the answer unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eolc_fhir.fhir.instant import to_instant

__all__ = ["DELIVERY_EXT", "Delivery", "delivery_extension", "read_delivery"]

DELIVERY_EXT = "https://eolc.example.org/fhir/StructureDefinition/eolc-subscription-delivery"
_MAX_UNSIGNED = 2**31 - 1


@dataclass(frozen=True)
class Delivery:
    """One Subscription's delivery state, as the dispatcher keeps it."""

    channel: str  # rest-hook | websocket
    owner: str | None = None  # the client that created it
    delivered: int = 0  # the last event number a receiver acknowledged
    backlog: int | None = None  # events not yet acknowledged (None: not tracked, websocket)
    last_delivery_us: int = 0  # 0: nothing delivered yet
    failures: int = 0  # consecutive failed attempts
    next_attempt_us: int = 0  # 0: no retry waiting
    last_error: str | None = None


def _count(value: int) -> int:
    return max(0, min(value, _MAX_UNSIGNED))


def delivery_extension(state: Delivery) -> dict[str, Any]:
    """The ``eolc-subscription-delivery`` extension; absent facts are left out."""
    parts: list[dict[str, Any]] = [{"url": "channel", "valueCode": state.channel}]
    if state.owner:
        parts.append({"url": "owner", "valueString": state.owner})
    if state.backlog is not None:
        parts += [{"url": "delivered-event-number", "valueString": str(state.delivered)},
                  {"url": "backlog", "valueUnsignedInt": _count(state.backlog)}]
    if state.last_delivery_us > 0:
        parts.append({"url": "last-delivery", "valueInstant": to_instant(state.last_delivery_us)})
    parts.append({"url": "failures", "valueUnsignedInt": _count(state.failures)})
    if state.next_attempt_us > 0:
        parts.append({"url": "next-attempt", "valueInstant": to_instant(state.next_attempt_us)})
    if state.last_error:
        parts.append({"url": "last-error", "valueString": state.last_error})
    return {"url": DELIVERY_EXT, "extension": parts}


def read_delivery(parameters: dict[str, Any]) -> dict[str, Any]:
    """The extension's parts of a SubscriptionStatus, by name ({} when it has none)."""
    for parameter in parameters.get("parameter") or []:
        if not isinstance(parameter, dict) or parameter.get("name") != "status":
            continue
        for ext in parameter.get("extension") or []:
            if isinstance(ext, dict) and ext.get("url") == DELIVERY_EXT:
                return {str(p.get("url")): next((v for k, v in p.items() if k.startswith(
                        "value")), None) for p in ext.get("extension") or []
                        if isinstance(p, dict)}
    return {}
