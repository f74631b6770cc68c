"""The dispatcher: leases due subscriptions and delivers their events in order.

One per process (the app's lifespan or ``eolc-fhir dispatch``). On PostgreSQL
several share the work: a subscription is leased with ``FOR UPDATE SKIP
LOCKED`` (plus a lease time, renewed while held) and dispatchers are woken by
``LISTEN/NOTIFY``; on SQLite there is one, woken in-process after each commit
and by polling. Each subscription is drained by one task at a time, so its
events go out in event-number order, up to ``maxCount`` per Bundle, through
one shared webhook client (aiohttp). Delivery is at-least-once.

Database work is shared between subscriptions (``subscription_batches``): one
transaction leases a batch and reads each one's first events; the
acknowledgements of all deliveries that finished meanwhile commit together
(``GroupCommit``). A task sends its next Bundle only after its own
acknowledgement has committed, so order holds per subscription; a crash before
that commit means redelivery, never loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eolc_fhir.fhir.instant import now_us
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.subscriptions.batches import (
    Batch,
    PendingAck,
    acknowledge,
    lease_with_first_events,
)
from eolc_fhir.services.subscriptions.delivery import Outcome, WebhookClient
from eolc_fhir.services.subscriptions.expiry import ended, sweep_ended, switch_off_ended
from eolc_fhir.services.subscriptions.group_commit import GroupCommit
from eolc_fhir.services.subscriptions.outbox import SubscriptionEngine, base_url
from eolc_fhir.services.subscriptions.status import notified_events, write_resource_status
from eolc_fhir.storage.repository import ConcurrentWriteError
from eolc_fhir.storage.subscription_repo import StateRow
from eolc_fhir.storage.unit_of_work import UnitOfWork
from eolc_fhir.subscriptions.classic import classic_requests
from eolc_fhir.subscriptions.endpoints import retry_delay
from eolc_fhir.subscriptions.notification import NotifiedEvent, encode, notification_bundle
from eolc_fhir.subscriptions.spec import SubscriptionSpec

__all__ = ["Dispatcher", "DispatcherStats"]

log = logging.getLogger("eolc_fhir.subscriptions")
T = TypeVar("T")
_PURGE_EVERY_US = 600 * 1_000_000
_DB_SLOTS = 4  # the dispatcher never takes more connections than this from the API's pool
_PG_CLAIM_BATCH = 16  # not all due work at once: dispatchers woken by one NOTIFY share it


class LeaseLost(Exception):
    """Another dispatcher took the subscription over (our lease had expired)."""


@dataclass
class DispatcherStats:
    posts: int = 0
    events: int = 0
    failures: int = 0


@dataclass
class _Local:
    status: str
    failures: int
    delivered: int
    last_sent_us: int


class Dispatcher:
    def __init__(self, ctx: ServerContext, *, owner: str | None = None,
                 client: WebhookClient | None = None) -> None:
        self.ctx = ctx
        self.engine: SubscriptionEngine = ctx.subscriptions
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.stats = DispatcherStats()
        s = ctx.settings
        self._lease_us = int(s.delivery_lease_seconds * 1_000_000)
        self._poll = s.dispatcher_poll_seconds
        self._client = client
        self._own_client = client is None
        self._wake = asyncio.Event()
        # SQLite writers that contend for its lock back off in sleeps of up to 100 ms:
        # one dispatcher transaction at a time never contends with itself.
        self._db = asyncio.Semaphore(1 if ctx.db.embedded else _DB_SLOTS)
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._acks: GroupCommit[PendingAck, Batch | None] = GroupCommit(self._ack_group)
        self._db_tasks: set[asyncio.Future[Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._unlisten: Any = None
        self._next_purge_us = self._next_sweep_us = 0

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        if self._client is None:
            self._client = WebhookClient(self.ctx.settings.delivery_concurrency * 2,
                                         ca_file=self.ctx.settings.delivery_ca_file)
        await self._client.start()
        self._acks.start()
        db = self.ctx.db
        if db.embedded:
            # SQLite has one dispatcher: leases left by a killed process are void.
            await self._write(lambda repo: repo.release_all(None))
        else:
            try:
                self._unlisten = await db.listen_for_events(self.wake)
            except Exception:  # polling still delivers; log why wake-ups are slower
                log.exception("LISTEN failed; the dispatcher falls back to polling")
        self.engine.dispatcher = self
        self._tasks = [asyncio.create_task(self._run(), name="eolc-dispatcher"),
                       asyncio.create_task(self._renew(), name="eolc-dispatcher-leases")]
        log.info("subscription dispatcher %s started", self.owner)

    async def stop(self) -> None:
        self.engine.dispatcher = None
        tasks = [*self._tasks, *self._workers.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._acks.stop()
        await asyncio.gather(*self._db_tasks, return_exceptions=True)
        self._tasks, self._workers = [], {}
        try:
            await self._write(lambda repo: repo.release_all(self.owner))
        except Exception:  # leases expire on their own
            log.exception("could not release the dispatcher's leases")
        if self._unlisten is not None:
            await self._unlisten()
        if self._own_client and self._client is not None:
            await self._client.close()
        st = self.stats
        log.info("subscription dispatcher %s stopped: %d POSTs, %d events, %d failures, "
                 "%d ack groups", self.owner, st.posts, st.events, st.failures, self._acks.groups)

    async def _guarded(self, step: Callable[[], Awaitable[T]]) -> T:
        """Run one database step to its end even if our task is cancelled by stop():
        a unit of work cut off half-way can leave its pooled connection unusable."""
        task = asyncio.ensure_future(self._in_slot(step))
        self._db_tasks.add(task)
        task.add_done_callback(self._db_tasks.discard)
        return await asyncio.shield(task)

    async def _in_slot(self, step: Callable[[], Awaitable[T]]) -> T:
        async with self._db:
            return await step()

    async def _write(self, work: Any) -> Any:
        return await self._write_uow(
            lambda uow: work(uow.subscriptions))

    async def _write_uow(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        async def step() -> T:
            async with self.ctx.db.unit_of_work(write=True) as uow:
                return await work(uow)

        return await self._guarded(step)

    # --- the main loop ------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            timeout = self._poll
            try:
                claimed, asked = await self._claim()
                for row, first in claimed:
                    self._spawn(row, first)
                if claimed and len(claimed) == asked:
                    continue  # maybe more are due: claim again before sleeping
                if not claimed:
                    timeout = await self._idle_timeout()
                await self._housekeeping()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatcher loop failed; retrying")
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    async def _claim(self) -> tuple[list[tuple[StateRow, Batch | None]], int]:
        """Lease due subscriptions and read their first events, in one transaction."""
        room = self.ctx.settings.delivery_concurrency - len(self._workers)
        if not self.ctx.db.embedded:  # dispatchers in other processes share the due work
            room = min(_PG_CLAIM_BATCH, room)
        if room <= 0:
            return [], 0
        now = now_us()

        claimed = await self._write_uow(lambda uow: lease_with_first_events(
            uow, self.engine.spec, self.owner, now, now + self._lease_us, room))
        return claimed, room

    async def _idle_timeout(self) -> float:
        async def step() -> int | None:
            async with self.ctx.db.unit_of_work(write=False) as uow:
                return await uow.subscriptions.next_due_us()

        due = await self._guarded(step)
        if due is None:
            return self._poll
        return max(0.005, min(self._poll, (due - now_us()) / 1_000_000))

    async def _housekeeping(self) -> None:
        """Each poll: switch off subscriptions past their end; now and then: purge."""
        now = now_us()
        if now >= self._next_sweep_us:
            self._next_sweep_us = now + int(self._poll * 1_000_000)
            await self._write_uow(lambda uow: sweep_ended(self.ctx, uow, now))
        if now >= self._next_purge_us:
            self._next_purge_us = now + _PURGE_EVERY_US
            keep_us = int(self.ctx.settings.event_retention_days * 86400 * 1_000_000)
            purged = await self._write(lambda repo: repo.purge_delivered(now - keep_us))
            if purged:
                log.info("purged %d delivered subscription events past the retention", purged)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._lease_us / 3_000_000)
            if not self._workers:
                continue
            try:
                until = now_us() + self._lease_us
                await self._write(lambda repo, until=until: repo.renew_leases(self.owner, until))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("renewing leases failed")

    def _spawn(self, row: StateRow, first: Batch | None) -> None:
        task = asyncio.create_task(self._work(row, first), name=f"eolc-deliver-{row.sub_id}")
        self._workers[row.sub_id] = task

        def done(_: asyncio.Task[None]) -> None:
            self._workers.pop(row.sub_id, None)
            self.wake()  # anything that arrived while we held the lease is claimed now

        task.add_done_callback(done)

    # --- one subscription -----------------------------------------------------------------

    async def _work(self, row: StateRow, first: Batch | None) -> None:
        holding = True
        try:
            holding = await self._drain(row, first)
        except asyncio.CancelledError:
            raise
        except LeaseLost:
            log.warning("subscription %s: lease lost to another dispatcher", row.sub_id)
            return
        except Exception:
            log.exception("delivering subscription %s failed", row.sub_id)
        if not holding:
            return
        try:
            await self._write(lambda repo: repo.update_leased(
                row.sub_id, self.owner, lease_owner=None, lease_until_us=0))
        except Exception:
            log.exception("releasing subscription %s failed", row.sub_id)

    async def _drain(self, row: StateRow, first: Batch | None) -> bool:
        """Deliver until nothing is due; False once the lease was given back with the ack."""
        spec = self.engine.spec(row.sub_id, row.spec)
        local = _Local(row.status, row.failures, row.delivered_number, row.last_sent_us)
        batch: Batch | None = first
        if ended(spec, now_us()):
            await self._write_uow(lambda uow: switch_off_ended(self.ctx, uow, row.sub_id))
            return False
        if batch is None:  # the claim reads no events for a handshake still owed
            batch = await self._deliver(row, spec, local, "handshake", [], row.last_event_number)
        while batch is not None and not batch.released:
            if ended(spec, now_us()):
                await self._write_uow(lambda uow: switch_off_ended(self.ctx, uow, row.sub_id))
                return False  # switched off, the lease given back with it
            beat = row.heartbeat_us
            if batch.events:
                kind = "event-notification"
            elif local.status == "active" and beat and local.last_sent_us + beat <= now_us():
                kind = "heartbeat"
            else:
                return True
            batch = await self._deliver(row, spec, local, kind, batch.events, batch.total)
        return False

    async def _deliver(self, row: StateRow, spec: SubscriptionSpec, local: _Local, kind: str,
                       events: list[NotifiedEvent], total: int) -> Batch | None:
        """POST one Bundle; on success the next batch (None after a failure)."""
        assert self._client is not None
        outcome: Outcome
        if spec.kind == "classic":  # R4 rest-hook: a ping, or the resources themselves
            outcome = await self._client.send_all(spec, classic_requests(spec, events))
        else:
            status = ("requested" if kind == "handshake" and local.status != "error"
                      else local.status)
            bundle = notification_bundle(
                base=base_url(self.ctx), sub_id=row.sub_id, topic=row.topic, status=status,
                kind=kind, events_since=total, events=events, content=spec.content,
                timestamp_us=now_us())
            outcome = await self._client.post(spec, encode(bundle))
        self.stats.posts += 1
        if outcome.ok:
            self.stats.events += len(events)
            last = events[-1].number if events else local.delivered
            return await self._succeeded(row.sub_id, local, last, spec)
        self.stats.failures += 1
        await self._failed(row.sub_id, local, f"{kind}: {outcome.error}")
        return None

    async def _update(self, sub_id: str, status_change: tuple[str, str | None] | None,
                      values: dict[str, Any], before: Callable[[Any, dict[str, Any]],
                                                               Awaitable[T]]) -> tuple[T, int]:
        """One transaction: the Subscription's new version (if any), ``before`` (which may
        add to ``values``), the state row; returns before's result and the event counter."""
        async def step() -> tuple[T, int]:
            async with self.ctx.db.unit_of_work(write=True) as uow:
                if status_change is not None:
                    await write_resource_status(self.ctx, uow, sub_id, *status_change)
                repo = uow.subscriptions
                changes = {**values, "lease_until_us": now_us() + self._lease_us}
                result = await before(uow, changes)
                total = await repo.update_leased(sub_id, self.owner, **changes)
                if total is None:
                    raise LeaseLost(sub_id)
                return result, total

        for attempt in range(5):
            try:
                return await self._guarded(step)
            except ConcurrentWriteError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    async def _succeeded(self, sub_id: str, local: _Local, delivered: int,
                         spec: SubscriptionSpec) -> Batch:
        now = now_us()
        values: dict[str, Any] = {"delivered_number": delivered, "last_sent_us": now,
                                  "failures": 0, "next_attempt_us": 0, "last_error": None}
        if local.status == "active":  # the common case: acknowledged with others at once
            found = await self._acks.submit(PendingAck(sub_id, delivered, now, spec))
            if found is None:
                raise LeaseLost(sub_id)
            batch = found
        else:
            batch = await self._recovered(sub_id, local, values, delivered, spec)
        local.status, local.failures, local.delivered, local.last_sent_us = (
            "active", 0, delivered, now)
        return batch

    async def _recovered(self, sub_id: str, local: _Local, values: dict[str, Any],
                         delivered: int, spec: SubscriptionSpec) -> Batch:
        """First success after a handshake or errors: a new Subscription version too."""
        log.warning("subscription %s: %s -> active", sub_id, local.status)
        values["status"] = "active"
        change = ("active", None)

        async def next_batch(uow: Any, changes: dict[str, Any]) -> Batch:
            # In the same transaction as the ack: the next batch, or the lease given back.
            repo = uow.subscriptions
            rows = await repo.events_after(sub_id, delivered, spec.max_count)
            batch = Batch(await notified_events(uow, rows, spec.content), 0)
            if not batch.events:
                changes.update(lease_owner=None, lease_until_us=0)
                batch.released = True
            return batch

        batch, total = await self._update(sub_id, change, values, next_batch)
        batch.total = total
        return batch

    async def _ack_group(self, acks: Sequence[PendingAck]) -> list[Batch | None]:
        until = now_us() + self._lease_us
        return await self._write_uow(lambda uow: acknowledge(uow, self.owner, acks, until))

    async def _failed(self, sub_id: str, local: _Local, error: str) -> None:
        s = self.ctx.settings
        failures = local.failures + 1
        delay = retry_delay(failures, s.delivery_retry_base_seconds, s.delivery_retry_max_seconds)
        values: dict[str, Any] = {"failures": failures, "last_error": error,
                                  "next_attempt_us": now_us() + int(delay * 1_000_000),
                                  "lease_owner": None}
        change = None
        handshake_failed = local.last_sent_us == 0 and local.status == "requested"
        if local.status != "error" and (handshake_failed or failures >= s.delivery_error_after):
            log.warning("subscription %s: %s -> error after %d failure(s): %s", sub_id,
                        local.status, failures, error)
            values["status"] = "error"
            change = ("error", error)
        else:
            log.info("subscription %s: delivery failed (%d), retry in %.2fs: %s", sub_id,
                     failures, delay, error)
        await self._update(sub_id, change, values, _nothing)
        local.failures = failures
        if change is not None:
            local.status = "error"


async def _nothing(_uow: Any, _changes: dict[str, Any]) -> None:
    return None
