"""A Subscription's own writes: checked, normalised, secrets masked, delivery state kept.

Two steps of the one write path (services/resources/writes.py):
``prepare_subscription`` (a prepare hook, before the bytes are made) puts back any
write-only value an update sent masked, checks the Subscription (topic-based or
classic), decides the status the server stores and masks the write-only values;
``subscription_changed`` (from the write hook, after the row is written) keeps the
delivery state row in step. The checked spec, with the real secrets, passes from the
first to the second in ``uow.notes``.

Status on a write by a client: ``off`` stays off; an ``end`` already past is stored
``off`` (accepted, never delivered); anything else is stored ``requested`` and the
dispatcher's first contact makes it ``active`` or ``error`` (a topic-based create must
say ``requested``, as the Backport IG asks; a classic one may say anything, as the
R4 examples do, and the server decides). A ``websocket`` Subscription has no endpoint
to try, so it is stored ``active`` at once; its handshake goes to each socket that binds.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

import orjson

from eolc_fhir.fhir.errors import Forbidden, InvalidRequest
from eolc_fhir.fhir.instant import now_us
from eolc_fhir.fhir.models import resource_types
from eolc_fhir.security import can_read, current_principal
from eolc_fhir.security.audience import owner_text
from eolc_fhir.services.context import Change, ServerContext
from eolc_fhir.services.resources.writes import store_version
from eolc_fhir.storage.model import StoredResource
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.classic import is_classic, read_classic
from eolc_fhir.subscriptions.endpoints import check_endpoint
from eolc_fhir.subscriptions.r4_topics import is_topic_basic
from eolc_fhir.subscriptions.secrets import mask, unmask
from eolc_fhir.subscriptions.spec import (
    WEBSOCKET,
    SubscriptionSpec,
    read_spec,
    spec_from_json,
    spec_to_json,
)

__all__ = ["OWNER", "SYSTEM_WRITE", "check_subscription", "prepare_subscription",
           "subscription_changed", "guard_topics", "mask_stored_secrets", "ENDED"]

log = logging.getLogger("eolc_fhir.subscriptions")

# The client creating a Subscription; the security layer sets it per request.
OWNER: ContextVar[str | None] = ContextVar("eolc_subscription_owner", default=None)
# True while the server itself writes a Subscription (status changes after a handshake).
SYSTEM_WRITE: ContextVar[bool] = ContextVar("eolc_subscription_system_write", default=False)
ENDED = "switched off: Subscription.end has passed"


def check_subscription(ctx: ServerContext, resource: dict[str, Any]) -> SubscriptionSpec:
    """400/422 unless the Subscription names a known topic (or a classic search),
    allowed filters and a usable channel."""
    engine = ctx.subscriptions
    if is_classic(resource):
        spec = read_classic(resource, resource_types())
        rtype = spec.filters[0].resource_type
        if not can_read(current_principal(), rtype):
            # Notifications would carry what the client may not read.
            raise Forbidden(f"this client may not read {rtype}, so it may not subscribe "
                            "to it", expression="Subscription.criteria")
    else:
        spec = read_spec(resource, engine.topics)
    if spec.channel != WEBSOCKET:
        check_endpoint(spec.endpoint, insecure_dev=ctx.settings.insecure_dev,
                       allowed_hosts=ctx.settings.delivery_allowed_hosts)
    topic = engine.topic_of(spec.topic)
    for f in spec.filters:
        engine.matcher.check(f.resource_type, list(f.params), topic.url)
    return spec


def _note(sub_id: str) -> tuple[str, str]:
    return ("subscription-spec", sub_id)


async def _stored_spec(uow: UnitOfWork, sub_id: str) -> SubscriptionSpec | None:
    row = await uow.subscriptions.get(sub_id)
    return spec_from_json(row.spec) if row is not None else None


def _status(resource: dict[str, Any], spec: SubscriptionSpec, creating: bool) -> str:
    status = resource.get("status")
    if creating and spec.kind == "topic" and status not in ("requested", "off"):
        raise InvalidRequest("a new Subscription must have status 'requested' (the server "
                             "sets 'active' after a successful handshake)",
                             expression="Subscription.status")
    ended = spec.end_us is not None and spec.end_us <= now_us()
    if status == "off" or ended:
        return "off"
    return "active" if spec.channel == WEBSOCKET else "requested"


async def prepare_subscription(ctx: ServerContext, uow: UnitOfWork, resource: dict[str, Any],
                               previous: StoredResource | None) -> None:
    """The prepare hook: see the module docstring."""
    if resource.get("resourceType") != "Subscription" or SYSTEM_WRITE.get() \
            or ctx.subscriptions is None:
        return
    sub_id = str(resource.get("id"))
    unmask(resource, await _stored_spec(uow, sub_id) if previous is not None else None)
    spec = check_subscription(ctx, resource)
    status = _status(resource, spec, previous is None)
    resource["status"] = status
    if spec.end_us is not None and spec.end_us <= now_us():
        resource["error"] = ENDED
    elif status != "off":
        resource.pop("error", None)  # the server's to set, after its first contact
    mask(resource)
    uow.notes[_note(sub_id)] = spec


async def guard_topics(_ctx: ServerContext, _uow: UnitOfWork, resource: dict[str, Any],
                       previous: StoredResource | None) -> None:
    """A prepare hook: the published topics (Basic, code SubscriptionTopic) are the
    server's; only admin clients may write over them (a restart publishes profiles/ again)."""
    principal = current_principal()
    if principal is None or principal.is_admin or resource.get("resourceType") != "Basic":
        return
    was_topic = previous is not None and previous.content is not None \
        and is_topic_basic(orjson.loads(previous.content))
    if was_topic or is_topic_basic(resource):
        raise Forbidden("subscription topics are published by the server; only admin may "
                        "change them", expression="Basic.code")


async def subscription_changed(ctx: ServerContext, uow: UnitOfWork, change: Change) -> None:
    """The write hook's part for Subscriptions: the delivery state row in step."""
    if SYSTEM_WRITE.get():
        return
    repo = uow.subscriptions
    sub_id = change.stored.id
    if change.resource is None:
        await repo.remove(sub_id)
        log.info("subscription %s deleted", sub_id)
        return
    resource = change.resource
    spec = uow.notes.pop(_note(sub_id), None)
    if spec is None:  # written without the prepare step (not through the write path)
        spec = check_subscription(ctx, orjson.loads(orjson.dumps(resource)))
    state = "off" if resource.get("status") == "off" else "requested"
    websocket = spec.channel == WEBSOCKET
    if websocket and state != "off":
        state = "active"
    # A websocket Subscription is parked for the dispatcher: the sockets' hub sends it
    # (services/subscriptions/live.py), heartbeats included.
    await repo.upsert_state(sub_id, topic=spec.topic, status=state, spec=spec_to_json(spec),
                            heartbeat_us=0 if websocket else spec.heartbeat_seconds * 1_000_000,
                            now_us=now_us(), owner=owner_text(current_principal()),
                            parked=websocket)
    log.info("subscription %s %s: %s (%s %s)", sub_id, change.interaction, state, spec.kind,
             spec.topic)
    if state == "requested":
        await repo.notify()
        uow.after_commit(ctx.subscriptions.wake)


async def mask_stored_secrets(ctx: ServerContext) -> list[str]:
    """At start: a new, masked version of every Subscription whose current version still
    shows a secret or header value (stored before they were write-only); their ids.
    The delivery state keeps the real values, so nothing changes for the receiver."""
    changed: list[str] = []
    async with ctx.db.unit_of_work(write=True) as uow:
        for row in await uow.subscriptions.list():
            current = await uow.resources.get_current("Subscription", row.sub_id,
                                                      for_update=True)
            if current is None or current.deleted or current.content is None:
                continue
            resource = orjson.loads(current.content)
            mask(resource)
            if resource == orjson.loads(current.content):
                continue
            token = SYSTEM_WRITE.set(True)
            try:
                await store_version(ctx, uow, resource, current, method="PUT",
                                    base_check="structure")
            finally:
                SYSTEM_WRITE.reset(token)
            changed.append(row.sub_id)
    if changed:
        log.warning("masked the secrets and header values shown by %d stored "
                    "subscription(s): %s", len(changed), ", ".join(changed))
    return changed
