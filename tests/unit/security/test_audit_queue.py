"""The read-audit queue: bounded, oldest first, nothing dropped when a flush fails."""

from __future__ import annotations

import asyncio

from eolc_fhir.security.audit import AuditQueue


def _events(n: int, start: int = 0) -> list[dict[str, int]]:
    return [{"n": i} for i in range(start, start + n)]


async def test_requests_wait_above_the_high_water_mark_until_written() -> None:
    queue = AuditQueue(batch_size=2, high_water=3)
    for event in _events(2):
        queue.put(event)
    await asyncio.wait_for(queue.room(), 0.1)  # below the mark: no wait
    queue.put({"n": 2})
    waiting = asyncio.create_task(queue.room())
    await asyncio.sleep(0.05)
    assert not waiting.done() and queue.wake.is_set()  # the flusher was woken
    taken = queue.take(2)
    assert [e["n"] for e in taken] == [0, 1]
    await asyncio.sleep(0.05)
    assert not waiting.done()  # taken is not written: a crash could still lose them
    assert queue.in_flight == 2
    queue.written(2)
    assert queue.in_flight == 0
    await asyncio.wait_for(waiting, 0.1)


async def test_a_failed_flush_puts_events_back_ahead_of_newer_ones() -> None:
    queue = AuditQueue(batch_size=10, high_water=100)
    for event in _events(5):
        queue.put(event)
    taken = queue.take(3)
    queue.put({"n": 5})
    queue.requeue(taken)
    assert queue.in_flight == 0
    assert [e["n"] for e in queue.take()] == [0, 1, 2, 3, 4, 5]


async def test_stopping_releases_waiting_requests() -> None:
    queue = AuditQueue(batch_size=1, high_water=1)
    queue.put({"n": 0})
    waiting = asyncio.create_task(queue.room())
    await asyncio.sleep(0.01)
    queue.stop()
    await asyncio.wait_for(waiting, 0.1)
