"""$status and $events, and the server's own Subscription status writes."""

from __future__ import annotations

import logging
from typing import Any

import orjson

from eolc_fhir.fhir.errors import InvalidRequest, NotFound
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.fhir.strings import printable
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.writes import store_version
from eolc_fhir.services.subscriptions.outbox import OWNER, SYSTEM_WRITE, SubscriptionEngine
from eolc_fhir.storage.repository import ConcurrentWriteError
from eolc_fhir.storage.subscription_repo import LIVE, EventRow, StateRow
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.delivery_state import Delivery, delivery_extension
from eolc_fhir.subscriptions.notification import (
    NotifiedEvent,
    notification_bundle,
    status_bundle,
    status_parameters,
)
from eolc_fhir.subscriptions.spec import CONTENT_LEVELS, WEBSOCKET

__all__ = ["subscription_status", "subscription_events", "write_resource_status",
           "notified_events", "MAX_EVENTS_PER_QUERY"]

log = logging.getLogger("eolc_fhir.subscriptions")
MAX_EVENTS_PER_QUERY = 1000
STATUS_CODES = ("requested", "active", "error", "off")
_ORIGIN_CHUNK = 1000


def _delivery(engine: SubscriptionEngine, row: StateRow, owner: str | None) -> Delivery:
    """What the dispatcher knows of this Subscription's deliveries (a websocket one's
    events are sent to bound sockets best-effort, never acknowledged: no backlog)."""
    channel = engine.spec(row.sub_id, row.spec).channel
    tracked = channel != WEBSOCKET
    retrying = tracked and row.status in LIVE and row.failures > 0
    return Delivery(channel=channel, owner=owner, delivered=row.delivered_number,
                    backlog=row.last_event_number - row.delivered_number if tracked else None,
                    last_delivery_us=row.last_sent_us if tracked else 0,
                    failures=row.failures,
                    next_attempt_us=row.next_attempt_us if retrying else 0,
                    last_error=row.last_error)


def _parameters(row: StateRow, base: str, delivery: Delivery) -> dict[str, Any]:
    return status_parameters(base=base, sub_id=row.sub_id, topic=row.topic, status=row.status,
                             kind="query-status", events_since=row.last_event_number,
                             error=row.last_error if row.status == "error" else None,
                             delivery=delivery_extension(delivery))


def _statuses(wanted: list[str] | None) -> set[str] | None:
    for code in wanted or ():
        if code not in STATUS_CODES:
            raise InvalidRequest(f"status '{code}' is not one of {', '.join(STATUS_CODES)}",
                                 expression="status")
    return set(wanted) if wanted else None


async def subscription_status(ctx: ServerContext, base: str, sub_id: str | None = None,
                              ids: list[str] | None = None,
                              statuses: list[str] | None = None) -> bytes:
    """``Subscription/[id]/$status`` (one) or ``Subscription/$status`` (the caller's,
    optionally only those whose status is one of ``statuses``)."""
    keep = _statuses(statuses) if sub_id is None else None
    async with ctx.db.unit_of_work(write=False) as uow:
        repo = uow.subscriptions
        rows = await repo.list([sub_id] if sub_id is not None else ids, owner=OWNER.get())
        rows = [r for r in rows if keep is None or r.status in keep]
        origins = {}
        for start in range(0, len(rows), _ORIGIN_CHUNK):  # bound the IN list's parameters
            origins.update(await uow.security.origins(
                [("Subscription", r.sub_id) for r in rows[start:start + _ORIGIN_CHUNK]]))
    if sub_id is not None and not rows:
        raise NotFound(f"Subscription/{sub_id} is not known")
    engine: SubscriptionEngine = ctx.subscriptions
    found = [_parameters(r, base, _delivery(engine, r, getattr(
        origins.get(("Subscription", r.sub_id)), "client_id", None))) for r in rows]
    return orjson.dumps(status_bundle(found, now_us()))


async def notified_events(uow: UnitOfWork, events: list[EventRow],
                          content: str) -> list[NotifiedEvent]:
    """Events with their focus versions' stored JSON when the content level needs it."""
    contents: dict[tuple[str, str, int], bytes | None] = {}
    if content == "full-resource":
        repo = uow.subscriptions
        contents = await repo.focus_contents(
            [(e.focus_type, e.focus_id, e.focus_version) for e in events])
    return [NotifiedEvent(e.event_number, e.created_us, e.interaction, e.focus_type, e.focus_id,
                          contents.get((e.focus_type, e.focus_id, e.focus_version)))
            for e in events]


def _number(value: str | None, name: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit():
        raise InvalidRequest(f"{name} must be a whole number", expression=name)
    return int(value)


async def subscription_events(ctx: ServerContext, base: str, sub_id: str,
                              query: dict[str, str]) -> bytes:
    """``$events``: replay stored events (those within the retention) as a history Bundle."""
    since = _number(query.get("eventsSinceNumber"), "eventsSinceNumber") or 1
    until = _number(query.get("eventsUntilNumber"), "eventsUntilNumber")
    engine: SubscriptionEngine = ctx.subscriptions
    async with ctx.db.unit_of_work(write=False) as uow:
        repo = uow.subscriptions
        rows = await repo.list([sub_id], owner=OWNER.get())
        if not rows:
            raise NotFound(f"Subscription/{sub_id} is not known")
        row = rows[0]
        spec = engine.spec(row.sub_id, row.spec)
        content = query.get("content") or spec.content
        if content not in CONTENT_LEVELS:
            raise InvalidRequest(f"content must be one of {', '.join(CONTENT_LEVELS)}",
                                 expression="content")
        last = row.last_event_number if until is None else min(until, row.last_event_number)
        last = min(last, since + MAX_EVENTS_PER_QUERY - 1)
        events = await notified_events(uow, await repo.events_between(sub_id, since, last),
                                       content)
    bundle = notification_bundle(base=base, sub_id=sub_id, topic=row.topic, status=row.status,
                                 kind="query-event", events_since=row.last_event_number,
                                 events=events, content=content, timestamp_us=now_us())
    return orjson.dumps(bundle)


async def write_resource_status(ctx: ServerContext, uow: UnitOfWork, sub_id: str,
                                status: str, error: str | None) -> None:
    """A new Subscription version carrying the server-decided status (and error text)."""
    current = await uow.resources.get_current("Subscription", sub_id, for_update=True)
    if current is None or current.deleted or current.content is None:
        return
    resource = orjson.loads(current.content)
    error = printable(error) if error else error  # a receiver's failure text: keep it valid
    if resource.get("status") == status and resource.get("error") == error:
        return
    resource["status"] = status
    if error:
        resource["error"] = error
    else:
        resource.pop("error", None)
    token = SYSTEM_WRITE.set(True)
    try:
        # The stored version passed the validator; the strict walk covers what we changed.
        await store_version(ctx, uow, resource, current, method="PUT", base_check="structure")
    except ConcurrentWriteError:
        log.info("subscription %s changed while its status was written; retrying", sub_id)
        raise
    finally:
        SYSTEM_WRITE.reset(token)
