"""Reads and writes of subscription state and events, inside the caller's transaction."""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage import tables as t
from eolc_fhir.storage.subscription_tables import subscription_events as ev
from eolc_fhir.storage.subscription_tables import subscription_state as st

__all__ = ["SubscriptionRepository", "StateRow", "EventRow", "Ack", "NOTIFY_CHANNEL", "listen",
           "PARKED_US", "padded"]

NOTIFY_CHANNEL = "eolc_subscription_events"
LIVE = ("requested", "active", "error")
CLASSIC_LIKE = "classic:%"
# ``next_attempt_us`` of a websocket Subscription: never due for the dispatcher (nothing to
# POST), and its events are purged by age alone (the sockets' hub sends them best-effort).
PARKED_US = 1 << 62  # the pseudo-topic of classic subscriptions (subscriptions/spec.py)


@dataclass(frozen=True, slots=True)
class StateRow:
    sub_id: str
    topic: str
    status: str
    owner: str | None
    spec: str
    created_us: int
    last_event_number: int
    delivered_number: int
    failures: int
    next_attempt_us: int
    last_sent_us: int
    heartbeat_us: int
    last_error: str | None
    lease_owner: str | None


@dataclass(frozen=True, slots=True)
class EventRow:
    sub_id: str
    event_number: int
    created_us: int
    interaction: str
    focus_type: str
    focus_id: str
    focus_version: int


@dataclass(frozen=True, slots=True)
class Ack:
    """A delivery the receiver accepted: events up to ``delivered`` are done."""
    sub_id: str
    delivered: int
    sent_us: int
    lease_until_us: int  # 0: give the lease back (nothing left to send)


def _state(row: Any) -> StateRow:
    return StateRow(*(getattr(row, f) for f in StateRow.__slots__))


def _event(row: Any) -> EventRow:
    return EventRow(*(getattr(row, f) for f in EventRow.__slots__))


_T = TypeVar("_T")
_STATE_COLS = [st.c[f] for f in StateRow.__slots__]
_EVENT_COLS = [ev.c[f] for f in EventRow.__slots__]


def padded(items: Sequence[_T], filler: _T) -> list[_T]:
    """``items``, then ``filler`` (which matches nothing) until their number is 1-4 or a
    power of two.

    A statement with one OR-ed condition per item has a shape per number of items, and
    SQLAlchemy's compiled statements and asyncpg's prepared statements are kept per shape:
    one for every number of subscriptions a dispatcher ever asked for at once, each holding
    hundreds of parameters. Under a soak with 100 subscribers that grew the process by tens
    of MB; padded, there are a dozen shapes in all."""
    size = len(items)
    if size > 4:
        size = 1 << (size - 1).bit_length()
    return [*items, *[filler] * (size - len(items))]


class SubscriptionRepository:
    """Never commits: the unit of work around it does."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    # --- the write side (inside resource write transactions) -------------------------

    async def upsert_state(self, sub_id: str, *, topic: str, status: str, spec: str,
                           heartbeat_us: int, now_us: int, owner: str | None,
                           parked: bool = False) -> None:
        """Create the row, or reset it for a changed Subscription (keeps the counters);
        ``parked``: a websocket Subscription, never due for the dispatcher."""
        # last_sent_us 0 means "handshake still to do"
        values = {"topic": topic, "status": status, "spec": spec, "heartbeat_us": heartbeat_us,
                  "failures": 0, "next_attempt_us": PARKED_US if parked else 0,
                  "last_error": None, "last_sent_us": 0}
        result = await self.conn.execute(update(st).where(st.c.sub_id == sub_id).values(values))
        if result.rowcount == 0:
            await self.conn.execute(insert(st).values(
                sub_id=sub_id, owner=owner, created_us=now_us, last_event_number=0,
                delivered_number=0, lease_until_us=0, **values))

    async def set_owner(self, sub_id: str, owner: str) -> None:
        """The owner's view (security/audience.py), for a row written before it was kept."""
        await self.conn.execute(update(st).where(st.c.sub_id == sub_id).values(owner=owner))

    async def switch_off(self, sub_id: str, reason: str) -> None:
        """Status ``off`` (no more events or deliveries), ``reason`` as its last error."""
        await self.conn.execute(update(st).where(st.c.sub_id == sub_id).values(
            status="off", last_error=reason, lease_owner=None, lease_until_us=0))

    async def remove(self, sub_id: str) -> None:
        await self.conn.execute(delete(ev).where(ev.c.sub_id == sub_id))
        await self.conn.execute(delete(st).where(st.c.sub_id == sub_id))

    async def live_for_topics(self, topics: Sequence[str], *, classic: bool = False
                              ) -> list[tuple[str, str, str, str | None]]:
        """(sub_id, topic, spec, owner) of every subscription that still collects events,
        on ``topics`` (and, with ``classic``, every classic one: topic ``classic:<Type>``)."""
        on_topic: Any = st.c.topic.in_(list(topics))
        if classic:
            on_topic = or_(on_topic, st.c.topic.like(CLASSIC_LIKE))
        stmt = select(st.c.sub_id, st.c.topic, st.c.spec, st.c.owner).where(
            on_topic, st.c.status.in_(LIVE))
        return [(r.sub_id, r.topic, r.spec, r.owner) for r in await self.conn.execute(stmt)]

    async def live_with_end(self) -> list[tuple[str, str]]:
        """(sub_id, spec) of live subscriptions whose spec has an end (``end_us`` set)."""
        stmt = select(st.c.sub_id, st.c.spec).where(
            st.c.status.in_(LIVE), st.c.spec.like('%"end_us":%'),
            st.c.spec.not_like('%"end_us":null%'))
        return [(r.sub_id, r.spec) for r in await self.conn.execute(stmt)]

    async def append_events(self, sub_ids: Sequence[str], *, interaction: str, focus_type: str,
                            focus_id: str, focus_version: int, created_us: int) -> dict[str, int]:
        """Take each subscription's next event number and store the events (3 statements).

        The counter rows stay locked until commit, which keeps numbers dense; on
        PostgreSQL they are locked in sub_id order first, the order every writer uses.
        """
        ids = sorted(set(sub_ids))
        if not ids:
            return {}
        if self.dialect == "postgresql":
            await self.conn.execute(select(st.c.sub_id).where(st.c.sub_id.in_(ids))
                                    .order_by(st.c.sub_id).with_for_update())
        rows = await self.conn.execute(
            update(st).where(st.c.sub_id.in_(ids))
            .values(last_event_number=st.c.last_event_number + 1)
            .returning(st.c.sub_id, st.c.last_event_number))
        numbers = {r.sub_id: int(r.last_event_number) for r in rows}
        await self.conn.execute(insert(ev), [
            {"sub_id": sub_id, "event_number": number, "created_us": created_us,
             "interaction": interaction, "focus_type": focus_type, "focus_id": focus_id,
             "focus_version": focus_version} for sub_id, number in numbers.items()])
        return numbers

    async def notify(self) -> None:
        """PostgreSQL: wake listening dispatchers when this transaction commits."""
        if self.dialect == "postgresql":
            await self.conn.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))

    # --- the dispatcher side ----------------------------------------------------------

    def _due(self, now_us: int) -> Any:
        pending = st.c.last_event_number > st.c.delivered_number
        heartbeat = and_(st.c.status == "active", st.c.heartbeat_us > 0,
                         st.c.last_sent_us + st.c.heartbeat_us <= now_us)
        return and_(st.c.status.in_(LIVE), st.c.next_attempt_us <= now_us,
                    or_(pending, st.c.last_sent_us == 0, heartbeat))

    async def claim_due(self, owner: str, now_us: int, lease_until_us: int,
                        limit: int) -> list[StateRow]:
        """Lease due subscriptions nobody else holds (SKIP LOCKED on PostgreSQL)."""
        free = or_(st.c.lease_owner.is_(None), st.c.lease_until_us < now_us)
        # Least recently served first: no subscription starves behind busier ones.
        stmt = (select(st.c.sub_id).where(self._due(now_us), free)
                .order_by(st.c.last_sent_us).limit(limit))
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = [r.sub_id for r in await self.conn.execute(stmt)]
        if not ids:
            return []
        await self.conn.execute(update(st).where(st.c.sub_id.in_(ids)).values(
            lease_owner=owner, lease_until_us=lease_until_us))
        rows = await self.conn.execute(select(*_STATE_COLS).where(st.c.sub_id.in_(ids)))
        return [_state(r) for r in rows]

    async def get(self, sub_id: str) -> StateRow | None:
        row = (await self.conn.execute(select(*_STATE_COLS).where(st.c.sub_id == sub_id))).first()
        return _state(row) if row is not None else None

    async def list(self, sub_ids: Sequence[str] | None = None,
                   owner: str | None = None) -> list[StateRow]:
        stmt = select(*_STATE_COLS).order_by(st.c.sub_id)
        if sub_ids is not None:
            stmt = stmt.where(st.c.sub_id.in_(list(sub_ids)))
        if owner is not None:
            stmt = stmt.where(st.c.owner == owner)
        return [_state(r) for r in await self.conn.execute(stmt)]

    async def next_due_us(self) -> int | None:
        """The earliest retry or heartbeat time of any live subscription."""
        retry = select(func.min(st.c.next_attempt_us)).where(
            st.c.status.in_(LIVE), or_(st.c.last_event_number > st.c.delivered_number,
                                       st.c.last_sent_us == 0))
        beat = select(func.min(st.c.last_sent_us + st.c.heartbeat_us)).where(
            st.c.status == "active", st.c.heartbeat_us > 0)
        found = [(await self.conn.execute(q)).scalar() for q in (retry, beat)]
        times = [int(v) for v in found if v is not None]
        return min(times) if times else None

    async def events_after(self, sub_id: str, after: int, limit: int) -> builtins.list[EventRow]:
        stmt = (select(*_EVENT_COLS).where(ev.c.sub_id == sub_id, ev.c.event_number > after)
                .order_by(ev.c.event_number).limit(limit))
        return [_event(r) for r in await self.conn.execute(stmt)]

    async def next_events(self, ranges: Sequence[tuple[str, int, int]]
                          ) -> dict[str, builtins.list[EventRow]]:
        """Several subscriptions' next events in one query: for each (sub_id, after, limit)
        the events numbered after+1 .. after+limit. Numbers are dense and only delivered
        events are ever purged, so that range is exactly ``events_after(sub_id, after,
        limit)``."""
        found: dict[str, builtins.list[EventRow]] = {sub_id: [] for sub_id, _, _ in ranges}
        if not ranges:
            return found
        stmt = select(*_EVENT_COLS).where(or_(*(
            and_(ev.c.sub_id == sub_id, ev.c.event_number > after,
                 ev.c.event_number <= after + limit)
            for sub_id, after, limit in padded(ranges, ("", 0, 0))))
        ).order_by(ev.c.sub_id, ev.c.event_number)
        for r in await self.conn.execute(stmt):
            found[r.sub_id].append(_event(r))
        return found

    async def events_between(self, sub_id: str, since: int, until: int) -> builtins.list[EventRow]:
        stmt = (select(*_EVENT_COLS).where(ev.c.sub_id == sub_id, ev.c.event_number >= since,
                                           ev.c.event_number <= until)
                .order_by(ev.c.event_number))
        return [_event(r) for r in await self.conn.execute(stmt)]

    async def focus_contents(self, keys: Sequence[tuple[str, str, int]]
                             ) -> dict[tuple[str, str, int], bytes | None]:
        """Stored JSON of (type, id, version) keys from the history, in one query."""
        if not keys:
            return {}
        h = t.resource_history
        # OR of key equalities, not a row-value IN: SQLite scans the whole history for
        # the latter and looks each key up in the unique index for the former.
        stmt = select(h.c.res_type, h.c.res_id, h.c.version, h.c.content).where(or_(*(
            and_(h.c.res_type == rtype, h.c.res_id == rid, h.c.version == version)
            for rtype, rid, version in padded(list(set(keys)), ("", "", 0)))))
        return {(r.res_type, r.res_id, r.version):
                (bytes(r.content) if r.content is not None else None)
                for r in await self.conn.execute(stmt)}

    async def update_leased(self, sub_id: str, owner: str, **values: Any) -> int | None:
        """Change a subscription this dispatcher holds: its event counter, None if the
        lease was lost."""
        row = (await self.conn.execute(update(st).where(
            st.c.sub_id == sub_id, st.c.lease_owner == owner).values(**values)
            .returning(st.c.last_event_number))).first()
        return int(row.last_event_number) if row is not None else None

    async def ack_many(self, owner: str, acks: Sequence[Ack]) -> dict[str, int]:
        """Record many successful deliveries in three statements, whatever their number:
        lock the rows (sub_id order, the writers' order), one executemany UPDATE of those
        still leased by ``owner``. Returns each acknowledged subscription's event counter;
        one missing from the answer had lost its lease (nothing was written for it)."""
        if not acks:
            return {}
        ids = sorted(a.sub_id for a in acks)
        stmt = select(st.c.sub_id, st.c.lease_owner, st.c.last_event_number).where(
            st.c.sub_id.in_(ids)).order_by(st.c.sub_id)
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        totals = {r.sub_id: int(r.last_event_number) for r in await self.conn.execute(stmt)
                  if r.lease_owner == owner}
        held = [a for a in sorted(acks, key=lambda a: a.sub_id) if a.sub_id in totals]
        if held:
            await self.conn.execute(
                update(st).where(st.c.sub_id == bindparam("b_sub_id"))
                .values(delivered_number=bindparam("b_delivered"),
                        last_sent_us=bindparam("b_sent_us"), failures=0, next_attempt_us=0,
                        last_error=None, lease_owner=bindparam("b_owner"),
                        lease_until_us=bindparam("b_until_us")),
                [{"b_sub_id": a.sub_id, "b_delivered": a.delivered, "b_sent_us": a.sent_us,
                  "b_owner": owner if a.lease_until_us else None,
                  "b_until_us": a.lease_until_us} for a in held])
        return totals

    async def _each_leased(self, owner: str, **values: Any) -> None:
        # Row by row in sub_id order, the order writers lock in: a multi-row UPDATE
        # locks in scan order and can deadlock with them on PostgreSQL.
        ids = sorted(r.sub_id for r in await self.conn.execute(
            select(st.c.sub_id).where(st.c.lease_owner == owner)))
        for sub_id in ids:
            await self.conn.execute(update(st).where(
                st.c.sub_id == sub_id, st.c.lease_owner == owner).values(**values))

    async def renew_leases(self, owner: str, lease_until_us: int) -> None:
        await self._each_leased(owner, lease_until_us=lease_until_us)

    async def release_all(self, owner: str | None = None) -> None:
        """Drop leases: this dispatcher's, or every lease (single SQLite dispatcher start)."""
        if owner is not None:
            await self._each_leased(owner, lease_owner=None, lease_until_us=0)
            return
        await self.conn.execute(update(st).values(lease_owner=None, lease_until_us=0))

    async def purge_delivered(self, before_us: int) -> int:
        """Delete delivered events older than the retention; undelivered ones stay (but a
        parked, websocket, Subscription's events go by age alone)."""
        delivered = select(st.c.delivered_number).where(
            st.c.sub_id == ev.c.sub_id).scalar_subquery()
        parked = select(st.c.next_attempt_us).where(st.c.sub_id == ev.c.sub_id).scalar_subquery()
        result = await self.conn.execute(delete(ev).where(
            ev.c.created_us < before_us, or_(ev.c.event_number <= delivered,
                                             parked >= PARKED_US)))
        return int(result.rowcount or 0)


async def listen(url: str, callback: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """PostgreSQL LISTEN on the events channel; returns the function that stops it."""
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    await conn.add_listener(NOTIFY_CHANNEL, lambda *_args: callback())

    async def close() -> None:
        await conn.close()

    return close
