"""Read a classic R4 Subscription (``criteria`` a search) into a ``SubscriptionSpec`` (pure).

Classic (FHIR R4 ``subscription.html``) or topic-based (Backport IG)? Topic-based when
``meta.profile`` names the IG's ``backport-subscription`` profile or ``criteria`` is an
absolute URL (a topic canonical); classic when ``criteria`` is ``Type`` or
``Type?param=value&...``.

Delivery of a classic ``rest-hook`` (dispatcher): ``payload`` absent is an empty POST to
the endpoint (a ping; several pending events share one); ``application/fhir+json`` sends
each changed resource as a ``PUT [endpoint]/[Type]/[id]`` (the endpoint read as a FHIR
base), one event at a time, and a deletion as ``DELETE [endpoint]/[Type]/[id]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from eolc_fhir.fhir.errors import ProfileViolation
from eolc_fhir.subscriptions.notification import NotifiedEvent
from eolc_fhir.subscriptions.spec import (
    CLASSIC_PREFIX,
    Filter,
    SubscriptionSpec,
    channel_parts,
    check_channel,
    end_us_of,
)

__all__ = ["is_classic", "read_classic", "BACKPORT_PROFILE", "UNSUBSCRIBABLE",
           "classic_requests"]

BACKPORT_PROFILE = ("http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
                    "backport-subscription")
_PING_MAX_COUNT = 50
_ABSOLUTE = ("http://", "https://", "urn:")
# Subscriptions themselves, and what the server writes for every request (audit,
# provenance), are never the trigger of a classic subscription.
UNSUBSCRIBABLE = frozenset({"Subscription", "AuditEvent", "Provenance"})


def is_classic(resource: dict[str, Any]) -> bool:
    criteria = resource.get("criteria")
    profiles = (resource.get("meta") or {}).get("profile") or ()
    if any(isinstance(p, str) and p.split("|")[0] == BACKPORT_PROFILE for p in profiles):
        return False
    return isinstance(criteria, str) and not criteria.startswith(_ABSOLUTE)


def _bad(message: str, expression: str = "Subscription.criteria") -> ProfileViolation:
    return ProfileViolation(message, code="business-rule", expression=expression)


def _criteria(text: str, known_types: frozenset[str]) -> Filter:
    head, _, query = text.strip().partition("?")
    rtype = head.strip().rstrip("/")
    if rtype not in known_types:
        raise _bad(f"criteria '{text}' does not start with a resource type this server "
                   "stores (Type?param=value)")
    if rtype in UNSUBSCRIBABLE:
        raise _bad(f"{rtype} resources cannot be subscribed to")
    params = tuple((k, v) for k, v in parse_qsl(query, keep_blank_values=True))
    if any(not k for k, _ in params):
        raise _bad(f"criteria '{text}' has a parameter without a name")
    return Filter(rtype, params)


def read_classic(resource: dict[str, Any], known_types: frozenset[str]) -> SubscriptionSpec:
    """Check a classic Subscription's criteria and channel; 400/422 FhirErrors say why."""
    found = _criteria(str(resource["criteria"]), known_types)
    channel = check_channel(resource.get("channel"), default_payload=None)
    full = channel.get("payload") is not None
    return SubscriptionSpec(
        topic=CLASSIC_PREFIX + found.resource_type, filters=(found,),
        content="full-resource" if full else "empty",
        # One resource per request with a payload; a ping stands for all that is pending.
        max_count=1 if full else _PING_MAX_COUNT,
        heartbeat_seconds=0, kind="classic", end_us=end_us_of(resource),
        **channel_parts(channel))


def classic_requests(spec: SubscriptionSpec, events: Sequence[NotifiedEvent]
                     ) -> list[tuple[str, str, bytes]]:
    """(method, url, body) of what a classic rest-hook sends for ``events`` (none: the
    first contact, an empty POST); see the module docstring."""
    if spec.content == "empty" or not events:
        return [("POST", spec.endpoint, b"")]
    root = spec.endpoint.rstrip("/")
    found: list[tuple[str, str, bytes]] = []
    for event in events:
        url = f"{root}/{event.focus_type}/{event.focus_id}"
        if event.interaction == "delete" or event.content is None:
            found.append(("DELETE", url, b""))
        else:
            found.append(("PUT", url, event.content))
    return found
