"""Subscriptions in the write path: Subscription lifecycle and the transactional outbox.

``install(ctx)`` registers ``on_write`` as a write hook. It runs INSIDE every
write transaction, so a committed change always has its subscription events and
a rolled-back one never does; event numbers are taken from a per-subscription
counter row, locked until commit, which keeps them dense and durable.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Sequence
from typing import Any

import orjson

from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.resources.writes import Change
from eolc_fhir.services.subscriptions.audience import OwnerCache, audible
from eolc_fhir.services.subscriptions.lifecycle import (
    OWNER,
    SYSTEM_WRITE,
    guard_topics,
    prepare_subscription,
    subscription_changed,
)
from eolc_fhir.services.subscriptions.matching import Matcher
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.classic import UNSUBSCRIBABLE
from eolc_fhir.subscriptions.delivery_state import DELIVERY_EXT
from eolc_fhir.subscriptions.r4_topics import XVER_PROFILE
from eolc_fhir.subscriptions.spec import CLASSIC_PREFIX, SubscriptionSpec, spec_from_json
from eolc_fhir.subscriptions.topics import Topic, Trigger, load_topics

__all__ = ["SubscriptionEngine", "install", "on_write", "on_write_batch", "OWNER", "SYSTEM_WRITE",
           "base_url", "TOPIC_EXT", "WS_PATH", "websocket_url"]

log = logging.getLogger("eolc_fhir.subscriptions")

TOPIC_EXT = ("http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/"
             "capabilitystatement-subscriptiontopic-canonical")
_OPERATIONS = [
    {"name": "status", "definition": "http://hl7.org/fhir/uv/subscriptions-backport/"
     "OperationDefinition/backport-subscription-status",
     "documentation": "`id` and `status` filters as the IG defines them. The `status` "
     "parameter of each SubscriptionStatus carries the extension " + DELIVERY_EXT + " "
     "(channel, owner, delivered-event-number, backlog, last-delivery, failures, "
     "next-attempt, last-error): see docs/api.md."},
    {"name": "events", "definition": "http://hl7.org/fhir/uv/subscriptions-backport/"
     "OperationDefinition/backport-subscription-events"},
    {"name": "get-ws-binding-token", "definition": "http://hl7.org/fhir/uv/subscriptions-"
     "backport/OperationDefinition/backport-subscription-get-ws-binding-token"},
]
# Where websocket clients connect (the R4 core extension the IG's websocket flow reads).
WS_PATH = "/ws"
WEBSOCKET_EXT = "http://hl7.org/fhir/StructureDefinition/capabilitystatement-websocket"


class SubscriptionEngine:
    """Topics, the filter matcher, parsed specs and the local dispatcher's wake-up."""

    def __init__(self, ctx: ServerContext) -> None:
        self.topics: dict[str, Topic] = load_topics(ctx.settings.profiles_dir)
        self.by_type: dict[str, list[Topic]] = {}
        for topic in self.topics.values():
            for rtype in topic.resource_types():
                self.by_type.setdefault(rtype, []).append(topic)
        self.by_type_urls = {rtype: frozenset(t.url for t in topics)
                             for rtype, topics in self.by_type.items()}
        self.matcher = Matcher(ctx, self.topics.values())
        self.dispatcher: Any = None
        self.owners = OwnerCache()  # the owners' views, parsed once (audience.py)
        self.live: Any = None  # the websocket hub (live.py), once a socket connected
        self._specs: dict[str, tuple[str, SubscriptionSpec]] = {}
        self._classic: dict[str, Topic] = {}

    def topic_of(self, url: str) -> Topic:
        """A topic by canonical, or the pseudo-topic ``classic:<Type>`` of classic
        subscriptions: every create, update and delete of that type, no filters of its own."""
        topic = self.topics.get(url)
        if topic is not None:
            return topic
        topic = self._classic.get(url)
        if topic is None:
            rtype = url.removeprefix(CLASSIC_PREFIX)
            trigger = Trigger(rtype, frozenset({"create", "update", "delete"}), ())
            topic = self._classic[url] = Topic(url, rtype, f"classic {rtype}", (trigger,), ())
        return topic

    def spec(self, sub_id: str, text: str) -> SubscriptionSpec:
        cached = self._specs.get(sub_id)
        if cached is None or cached[0] != text:
            if len(self._specs) > 10_000:
                self._specs.clear()
            cached = (text, spec_from_json(text))
            self._specs[sub_id] = cached
        return cached[1]

    def wake(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.wake()
        if self.live is not None:
            self.live.wake()


def base_url(ctx: ServerContext) -> str:
    """The public base used in notifications (settings.base_url, else host and port)."""
    s = ctx.settings
    return (s.base_url or f"http://{s.host}:{s.port}").rstrip("/")


def websocket_url(base: str) -> str:
    """Where websocket clients connect: the public base, ws(s):// for http(s)://, + /ws."""
    scheme, _, rest = base.rstrip("/").partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{WS_PATH}"


def install(ctx: ServerContext) -> SubscriptionEngine:
    engine = SubscriptionEngine(ctx)
    ctx.subscriptions = engine
    ctx.hooks.prepare_hooks.setdefault("Subscription", []).append(prepare_subscription)
    ctx.hooks.prepare_hooks.setdefault("Basic", []).append(guard_topics)
    ctx.hooks.write_hooks.append(on_write)
    ctx.hooks.batch_write_hooks[on_write] = on_write_batch
    ctx.hooks.capability_contributors.append(
        lambda rtype, entry: _advertise(engine, rtype, entry))
    ctx.hooks.statement_contributors.append(_advertise_websocket)
    return engine


def _advertise_websocket(statement: dict[str, Any]) -> None:
    """``rest.extension[capabilitystatement-websocket]``: the ``/ws`` endpoint."""
    url = websocket_url(str((statement.get("implementation") or {}).get("url", "")))
    for rest in statement.get("rest", []):
        rest.setdefault("extension", []).append({"url": WEBSOCKET_EXT, "valueUri": url})


def _advertise(engine: SubscriptionEngine, rtype: str, entry: dict[str, Any]) -> None:
    if rtype == "Basic":  # the topics, in the Backport IG's R4 form
        profiles = entry.setdefault("supportedProfile", [])
        if XVER_PROFILE not in profiles:
            profiles.append(XVER_PROFILE)
        return
    if rtype != "Subscription":
        return
    entry.setdefault("extension", []).extend(
        {"url": TOPIC_EXT, "valueCanonical": url} for url in sorted(engine.topics))
    entry["supportedProfile"] = ["http://hl7.org/fhir/uv/subscriptions-backport/"
                                 "StructureDefinition/backport-subscription"]
    entry["operation"] = list(_OPERATIONS)


async def on_write(ctx: ServerContext, uow: UnitOfWork, change: Change) -> None:
    """The write hook: keep subscription state in step, then append matching events."""
    engine: SubscriptionEngine | None = ctx.subscriptions
    if engine is None:
        return
    if change.stored.resource_type == "Subscription":
        await subscription_changed(ctx, uow, change)
        return
    await _outbox(ctx, engine, uow, change)


def _loads(content: bytes | None) -> dict[str, Any] | None:
    return orjson.loads(content) if content is not None else None


def _versions(change: Change) -> list[dict[str, Any]]:
    """The states a filter may match: the new one and, for updates and deletes, the old."""
    found = [change.resource] if change.resource is not None else []
    previous = change.previous
    if previous is not None and previous.content is not None:
        old = _loads(previous.content)
        if old is not None:
            found.append(old)
    return found


async def on_write_batch(ctx: ServerContext, uow: UnitOfWork, changes: Sequence[Change],
                         _contexts: Sequence[contextvars.Context] | None = None) -> None:
    """``on_write`` for many changes, in order: the live subscriptions are read once per
    batch (again after a Subscription change in it), not once per changed resource. What
    it writes does not depend on who asked, so the requests' contexts do not matter."""
    engine: SubscriptionEngine | None = ctx.subscriptions
    if engine is None:
        return
    live: list[tuple[str, str, str, str | None]] | None = None
    woken = False
    for change in changes:
        rtype = change.stored.resource_type
        if rtype == "Subscription":
            await subscription_changed(ctx, uow, change)
            live = None
            continue
        if rtype in UNSUBSCRIBABLE:
            continue
        if live is None:
            live = await uow.subscriptions.live_for_topics(sorted(engine.topics), classic=True)
        subs = [s for s in live if s[1] in engine.by_type_urls.get(rtype, ())
                or s[1] == CLASSIC_PREFIX + rtype]
        if not subs:
            continue  # nobody subscribed to this type: no topic needs evaluating
        versions = _versions(change)
        fired = _fired(engine, change, versions) | {CLASSIC_PREFIX + rtype}
        subs = [s for s in subs if s[1] in fired]
        if await _append_matching(engine, uow, change, versions, subs) and not woken:
            await uow.subscriptions.notify()
            uow.after_commit(engine.wake)
            woken = True


def _fired(engine: SubscriptionEngine, change: Change,
           versions: Sequence[dict[str, Any]]) -> set[str]:
    """The urls of the topics this change triggers (before any subscription is looked at)."""
    rtype = change.stored.resource_type
    current = change.resource
    # _versions: the new state (absent for a delete), then the old one when there was one
    previous = versions[-1] if len(versions) > (current is not None) else None
    return {t.url for t in engine.by_type.get(rtype, ())
            if engine.matcher.fires(t, change.interaction, rtype, versions,
                                    current=current, previous=previous)}


async def _outbox(ctx: ServerContext, engine: SubscriptionEngine, uow: UnitOfWork,
                  change: Change) -> None:
    rtype = change.stored.resource_type
    if rtype in UNSUBSCRIBABLE:
        return
    versions = _versions(change)
    # Classic subscriptions on the type: any change may meet their criteria. One query
    # reads them with the subscribers of the topics the change fires.
    keys = _fired(engine, change, versions) | {CLASSIC_PREFIX + rtype}
    repo = uow.subscriptions
    subs = await repo.live_for_topics(sorted(keys))
    if await _append_matching(engine, uow, change, versions, subs):
        await repo.notify()
        uow.after_commit(engine.wake)


async def _append_matching(engine: SubscriptionEngine, uow: UnitOfWork, change: Change,
                           versions: Sequence[dict[str, Any]],
                           subs: Sequence[tuple[str, str, str, str | None]]) -> bool:
    """Append an event for every subscription whose filters the change meets and whose
    owner may see it (services/subscriptions/audience.py); any?"""
    if not subs:
        return False
    rtype = change.stored.resource_type
    cache: dict[Any, bool] = {}
    candidates: list[tuple[str, str | None]] = []
    for sub_id, topic_url, spec_text, owner in subs:
        spec = engine.spec(sub_id, spec_text)
        topic = engine.topic_of(topic_url)
        if await engine.matcher.filters_match(
                uow, topic, spec.filters, rtype, versions, cache):
            candidates.append((sub_id, owner))
    matched = await audible(uow, engine.owners, change, versions, candidates) \
        if candidates else []
    if not matched:
        return False
    await uow.subscriptions.append_events(
        matched, interaction=change.interaction, focus_type=rtype, focus_id=change.stored.id,
        focus_version=change.stored.version, created_us=change.stored.last_updated_us)
    return True
