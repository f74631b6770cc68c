"""Notification Bundles and SubscriptionStatus Parameters exactly as the Backport IG shows.

Focus resources of full-resource notifications are embedded as their stored bytes
(``orjson.Fragment``): never parsed and re-serialised on the delivery path.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from eolc_fhir.fhir.instant import to_instant

__all__ = ["NotifiedEvent", "status_parameters", "notification_bundle", "status_bundle",
           "encode", "STATUS_PROFILE", "NOTIFICATION_PROFILE"]

_IG = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
STATUS_PROFILE = _IG + "backport-subscription-status-r4"
NOTIFICATION_PROFILE = _IG + "backport-subscription-notification-r4"
_REQUEST = {"create": ("POST", "201"), "update": ("PUT", "200"), "delete": ("DELETE", "204")}


@dataclass(frozen=True)
class NotifiedEvent:
    number: int
    timestamp_us: int
    interaction: str
    focus_type: str
    focus_id: str
    content: bytes | None = None  # the focus version's stored JSON (full-resource)


def _event_part(base: str, event: NotifiedEvent, content: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"name": "event-number", "valueString": str(event.number)},
        {"name": "timestamp", "valueInstant": to_instant(event.timestamp_us)},
    ]
    if content != "empty":
        parts.append({"name": "focus", "valueReference": {
            "reference": f"{base}/{event.focus_type}/{event.focus_id}"}})
    return {"name": "notification-event", "part": parts}


def status_parameters(*, base: str, sub_id: str, topic: str, status: str, kind: str,
                      events_since: int, events: Sequence[NotifiedEvent] = (),
                      content: str = "id-only", error: str | None = None,
                      resource_id: str | None = None,
                      delivery: dict[str, Any] | None = None) -> dict[str, Any]:
    """A backport-subscription-status-r4 Parameters resource; ``delivery``: an extension
    on the ``status`` parameter (the server's delivery state, in $status answers)."""
    state: dict[str, Any] = {"name": "status", "valueCode": status}
    if delivery is not None:
        state["extension"] = [delivery]
    params: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{sub_id}"}},
        state,
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(events_since)},
    ]
    if not topic.startswith("classic:"):  # a classic subscription has no topic
        params.insert(1, {"name": "topic", "valueCanonical": topic})
    params.extend(_event_part(base, e, content) for e in events)
    if error:
        params.append({"name": "error", "valueCodeableConcept": {"text": error}})
    return {"resourceType": "Parameters", "id": resource_id or str(uuid.uuid4()),
            "meta": {"profile": [STATUS_PROFILE]}, "parameter": params}


def _focus_entry(base: str, event: NotifiedEvent, content: str) -> dict[str, Any]:
    method, status = _REQUEST[event.interaction]
    url = event.focus_type if method == "POST" else f"{event.focus_type}/{event.focus_id}"
    entry: dict[str, Any] = {"fullUrl": f"{base}/{event.focus_type}/{event.focus_id}"}
    if content == "full-resource" and event.content is not None:
        entry["resource"] = orjson.Fragment(event.content)
    entry["request"] = {"method": method, "url": url}
    entry["response"] = {"status": status}
    return entry


def notification_bundle(*, base: str, sub_id: str, topic: str, status: str, kind: str,
                        events_since: int, events: list[NotifiedEvent], content: str,
                        timestamp_us: int) -> dict[str, Any]:
    """A history Bundle: the status Parameters first, then one entry per focus."""
    status_id = str(uuid.uuid4())
    first = {
        "fullUrl": f"urn:uuid:{status_id}",
        "resource": status_parameters(base=base, sub_id=sub_id, topic=topic, status=status,
                                      kind=kind, events_since=events_since, events=events,
                                      content=content, resource_id=status_id),
        "request": {"method": "GET", "url": f"{base}/Subscription/{sub_id}/$status"},
        "response": {"status": "200"},
    }
    entries = [first]
    if content != "empty":
        entries.extend(_focus_entry(base, e, content) for e in events)
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()),
            "meta": {"profile": [NOTIFICATION_PROFILE]}, "type": "history",
            "timestamp": to_instant(timestamp_us), "entry": entries}


def status_bundle(parameters: list[dict[str, Any]], timestamp_us: int) -> dict[str, Any]:
    """The $status answer: a searchset of SubscriptionStatus Parameters."""
    return {"resourceType": "Bundle", "id": str(uuid.uuid4()), "type": "searchset",
            "timestamp": to_instant(timestamp_us), "total": len(parameters),
            "entry": [{"fullUrl": f"urn:uuid:{p['id']}", "resource": p,
                       "search": {"mode": "match"}} for p in parameters]}


def encode(document: dict[str, Any]) -> bytes:
    return orjson.dumps(document)
