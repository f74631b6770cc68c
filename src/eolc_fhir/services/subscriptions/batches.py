"""The dispatcher's database steps, each one transaction for many subscriptions.

On SQLite every dispatcher transaction queues behind the one writer lock, so the
work is shared: ``lease_with_first_events`` leases a batch of due subscriptions
and reads each one's first events; ``acknowledge`` records many deliveries at
once (the group commit) and reads each subscription's next events, giving the
lease back where nothing is left. Both read events by number range in one query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eolc_fhir.services.subscriptions.status import notified_events
from eolc_fhir.storage.subscription_repo import Ack, StateRow
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.notification import NotifiedEvent
from eolc_fhir.subscriptions.spec import SubscriptionSpec

__all__ = ["Batch", "PendingAck", "lease_with_first_events", "acknowledge"]


@dataclass
class Batch:
    events: list[NotifiedEvent]
    total: int  # the subscription's events-since-start counter
    released: bool = False  # the lease was given back with the acknowledgement


@dataclass(frozen=True)
class PendingAck:
    sub_id: str
    delivered: int  # the last event number the receiver accepted
    sent_us: int
    spec: SubscriptionSpec


async def lease_with_first_events(
        uow: UnitOfWork, spec_of: Callable[[str, str], SubscriptionSpec], owner: str,
        now_us: int, lease_until_us: int, limit: int) -> list[tuple[StateRow, Batch | None]]:
    """Lease up to ``limit`` due subscriptions; each with its first Batch, or None when
    it still owes its handshake (which goes first)."""
    repo = uow.subscriptions
    rows = await repo.claim_due(owner, now_us, lease_until_us, limit)
    specs = {r.sub_id: spec_of(r.sub_id, r.spec) for r in rows if r.last_sent_us != 0}
    found = await repo.next_events([(r.sub_id, r.delivered_number, specs[r.sub_id].max_count)
                                    for r in rows if r.sub_id in specs])
    claimed: list[tuple[StateRow, Batch | None]] = []
    for r in rows:
        spec = specs.get(r.sub_id)
        claimed.append((r, None if spec is None else Batch(
            await notified_events(uow, found[r.sub_id], spec.content), r.last_event_number)))
    return claimed


async def acknowledge(uow: UnitOfWork, owner: str, acks: Sequence[PendingAck],
                      lease_until_us: int) -> list[Batch | None]:
    """Every ack, each subscription's next Batch; None where the lease was lost."""
    repo = uow.subscriptions
    found = await repo.next_events([(a.sub_id, a.delivered, a.spec.max_count) for a in acks])
    totals = await repo.ack_many(owner, [
        Ack(a.sub_id, a.delivered, a.sent_us, lease_until_us if found[a.sub_id] else 0)
        for a in acks])
    batches: list[Batch | None] = []
    for ack in acks:
        rows, total = found[ack.sub_id], totals.get(ack.sub_id)
        batches.append(None if total is None else Batch(
            await notified_events(uow, rows, ack.spec.content), total, released=not rows))
    return batches
