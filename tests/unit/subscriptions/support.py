"""Helpers shared by the subscription tests: Subscription builders and bundle readers."""

from __future__ import annotations

from typing import Any

from eolc_fhir.subscriptions.receiver import Received

__all__ = ["TOPIC", "SECRET_EXT", "subscription", "params_of", "event_numbers", "kinds",
           "notifications", "all_event_numbers", "BACKPORT"]

BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
TOPIC = "https://eolc.example.org/fhir/SubscriptionTopic/"
SECRET_EXT = "https://eolc.example.org/fhir/StructureDefinition/eolc-subscription-secret"


def subscription(endpoint: str, topic: str = "register-entry", *, filters: tuple[str, ...] = (),
                 content: str = "id-only", max_count: int | None = None,
                 heartbeat: int | None = None, secret: str | None = "s3cret",
                 headers: tuple[str, ...] = (), status: str = "requested",
                 timeout: int | None = 2) -> dict[str, Any]:
    channel_ext = []
    if heartbeat is not None:
        channel_ext.append({"url": BACKPORT + "backport-heartbeat-period",
                            "valueUnsignedInt": heartbeat})
    if timeout is not None:
        channel_ext.append({"url": BACKPORT + "backport-timeout", "valueUnsignedInt": timeout})
    if max_count is not None:
        channel_ext.append({"url": BACKPORT + "backport-max-count", "valuePositiveInt": max_count})
    if secret is not None:
        channel_ext.append({"url": SECRET_EXT, "valueString": secret})
    resource: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": status,
        "reason": "tests",
        "criteria": topic if topic.startswith("http") else TOPIC + topic,
        "channel": {
            "type": "rest-hook",
            "endpoint": endpoint,
            "payload": "application/fhir+json",
            "_payload": {"extension": [{"url": BACKPORT + "backport-payload-content",
                                        "valueCode": content}]},
        },
    }
    if channel_ext:
        resource["channel"]["extension"] = channel_ext
    if headers:
        resource["channel"]["header"] = list(headers)
    if filters:
        resource["_criteria"] = {"extension": [
            {"url": BACKPORT + "backport-filter-criteria", "valueString": f} for f in filters]}
    return resource


def params_of(bundle: dict[str, Any]) -> dict[str, Any]:
    """The status Parameters of a notification, by name (notification-event: a list)."""
    out: dict[str, Any] = {"notification-event": []}
    resource = bundle if bundle["resourceType"] == "Parameters" else bundle["entry"][0]["resource"]
    for p in resource["parameter"]:
        if p["name"] == "notification-event":
            out["notification-event"].append({q["name"]: q for q in p["part"]})
        else:
            out[p["name"]] = p
    return out


def kinds(items: list[Received]) -> list[str]:
    return [params_of(r.bundle)["type"]["valueCode"] for r in items]


def notifications(items: list[Received]) -> list[dict[str, Any]]:
    return [r.bundle for r in items if params_of(r.bundle)["type"]["valueCode"]
            == "event-notification"]


def event_numbers(bundle: dict[str, Any]) -> list[int]:
    return [int(e["event-number"]["valueString"])
            for e in params_of(bundle)["notification-event"]]


def all_event_numbers(items: list[Received]) -> list[int]:
    return [n for b in notifications(items) for n in event_numbers(b)]
