"""The Deliveries page's rows: $status answers joined to their Subscriptions, problems first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from eolc_fhir.subscriptions.delivery_state import read_delivery

__all__ = ["DeliveryRow", "delivery_rows", "shown_criteria", "shown_endpoint", "STATUSES",
           "CHANNELS", "page_of", "ordered",
           "status_code", "subscription_ids"]

STATUSES = ("requested", "active", "error", "off")
CHANNELS = ("rest-hook", "websocket")
_FILTER_EXT = ("http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
               "backport-filter-criteria")
# Filter values shown as written: codes, never a person. Any other value (a patient,
# an identifier, a name) is replaced, so the page carries no patient data.
_SHOWN_VALUES = frozenset({"code", "status", "category", "type", "_tag", "_profile",
                           "intent", "clinical-status", "verification-status", "_lastUpdated"})
_HIDDEN = "(hidden)"


@dataclass(frozen=True)
class DeliveryRow:
    id: str
    status: str
    owner: str
    channel: str
    endpoint: str
    topic: str
    criteria: list[str]
    reason: str
    events: int
    delivered: int | None
    backlog: int | None
    last_delivery: str
    failures: int
    next_attempt: str
    error: str
    error_time: str


def shown_criteria(criteria: str) -> str:
    """A search with its person-identifying values hidden: ``Flag?patient=(hidden)``."""
    head, sep, query = criteria.partition("?")
    if not sep:
        return criteria
    shown = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        base = name.split(":")[0].split(".")[0]
        shown.append(f"{name}={value if base in _SHOWN_VALUES else _HIDDEN}")
    return f"{head}?{'&'.join(shown)}"


def shown_endpoint(endpoint: str) -> str:
    """Scheme, host and path: a query string may carry a receiver's token."""
    if not endpoint:
        return ""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def _filters(subscription: dict[str, Any]) -> list[str]:
    found = [str(e.get("valueString", "")) for e in
             (subscription.get("_criteria") or {}).get("extension") or []
             if isinstance(e, dict) and e.get("url") == _FILTER_EXT]
    return [shown_criteria(f) for f in found if f]


def _param(parameters: dict[str, Any], name: str) -> dict[str, Any]:
    return next((p for p in parameters.get("parameter") or []
                 if isinstance(p, dict) and p.get("name") == name), {})


def _row(status: dict[str, Any], subscription: dict[str, Any]) -> DeliveryRow:
    state = read_delivery(status)
    channel = subscription.get("channel") or {}
    topic = str(_param(status, "topic").get("valueCanonical", ""))
    backlog = state.get("backlog")
    delivered = state.get("delivered-event-number")
    has_error = bool(subscription.get("error"))
    return DeliveryRow(
        id=str(subscription_of_status(status) or ""),
        status=str(_param(status, "status").get("valueCode", "")),
        owner=str(state.get("owner") or ""),
        channel=str(state.get("channel") or channel.get("type", "")),
        endpoint=shown_endpoint(str(channel.get("endpoint", ""))),
        topic=topic,
        criteria=_filters(subscription) if topic else
        [shown_criteria(str(subscription.get("criteria", "")))],
        reason=str(subscription.get("reason", "")),
        events=int(_param(status, "events-since-subscription-start").get("valueString", 0)),
        delivered=int(delivered) if delivered is not None else None,
        backlog=int(backlog) if backlog is not None else None,
        last_delivery=str(state.get("last-delivery") or ""),
        failures=int(state.get("failures") or 0),
        next_attempt=str(state.get("next-attempt") or ""),
        error=str(state.get("last-error") or subscription.get("error") or ""),
        error_time=str((subscription.get("meta") or {}).get("lastUpdated", ""))
        if has_error else "")


def subscription_of_status(status: dict[str, Any]) -> str | None:
    """The id of the Subscription a SubscriptionStatus describes."""
    ref = str(_param(status, "subscription").get("valueReference", {}).get("reference", ""))
    head, _, sid = ref.rpartition("/")
    return sid if head.endswith("Subscription") and sid else None


def status_code(status: dict[str, Any]) -> str:
    return str(_param(status, "status").get("valueCode", ""))


def subscription_ids(statuses: list[dict[str, Any]]) -> list[str]:
    return [sid for s in statuses if (sid := subscription_of_status(s))]


def _problem_first(status: dict[str, Any]) -> tuple[int, int, str]:
    """In error, then failing, then waiting or fine, then off; within each the largest
    backlog first."""
    state = read_delivery(status)
    code = status_code(status)
    failures = int(state.get("failures") or 0)
    rank = 0 if code == "error" else 3 if code == "off" else 1 if failures > 0 else 2
    return rank, -int(state.get("backlog") or 0), str(subscription_of_status(status) or "")


def ordered(statuses: list[dict[str, Any]], channel: str | None) -> list[dict[str, Any]]:
    """SubscriptionStatus resources on ``channel`` (None: any), problems first."""
    kept = [s for s in statuses
            if channel is None or read_delivery(s).get("channel") == channel]
    return sorted(kept, key=_problem_first)


def delivery_rows(statuses: list[dict[str, Any]], subscriptions: dict[str, dict[str, Any]]
                  ) -> list[DeliveryRow]:
    """One row per SubscriptionStatus, joined to its Subscription when it was readable."""
    return [_row(s, subscriptions.get(str(subscription_of_status(s)), {})) for s in statuses]


def page_of(rows: list[dict[str, Any]], page: int, size: int
            ) -> tuple[list[dict[str, Any]], int, int]:
    """The rows of page ``page`` (1-based, clamped), that page's number and how many."""
    pages = max(1, -(-len(rows) // size))
    page = min(max(1, page), pages)
    return rows[(page - 1) * size: page * size], page, pages
