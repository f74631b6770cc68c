"""SIGKILL of a real server during a burst of writes: after a restart nothing is lost.

Each committed change has its event (the outbox commits with the change); the
dispatcher of the restarted server delivers the rest in event-number order. A
receiver that de-duplicates by event number sees every event exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest

from eolc_fhir.subscriptions.receiver import Receiver
from tests.builders import make_register_flag
from tests.e2e.conftest import ServerProcess, start_server
from tests.unit.subscriptions.support import event_numbers, notifications, params_of, subscription

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST_RETRIES = {
    "EOLC_DELIVERY_RETRY_BASE_SECONDS": "0.05",
    "EOLC_DELIVERY_RETRY_MAX_SECONDS": "0.3",
    "EOLC_DELIVERY_ERROR_AFTER": "100",
    "EOLC_DISPATCHER_POLL_SECONDS": "0.2",
    "EOLC_DELIVERY_LEASE_SECONDS": "2",
    "EOLC_BASE_URL": "http://eolc.test",
}
FHIR = {"Content-Type": "application/fhir+json"}


async def start(url: str, tmp: Path, **env: str) -> ServerProcess:
    # In a thread: the receiver shares this test's event loop and must keep answering.
    return await asyncio.to_thread(start_server, url, tmp, "--insecure-dev",
                                   env={**FAST_RETRIES, **env})


async def total_events(base: str, sub_id: str) -> int:
    async with httpx.AsyncClient(base_url=base) as http:
        status = (await http.get(f"/Subscription/{sub_id}/$status")).json()
    return int(params_of(status)["events-since-subscription-start"]["valueString"])


def first_seen(bundles: list[dict[str, Any]]) -> list[int]:
    seen: list[int] = []
    for bundle in bundles:
        numbers = event_numbers(bundle)
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), numbers
        seen.extend(n for n in numbers if n not in seen)
    return seen


async def burst(base: str, committed: list[str], writers: int, each: int) -> None:
    async def writer() -> None:
        async with httpx.AsyncClient(base_url=base, headers=FHIR, timeout=10) as http:
            for _ in range(each):
                try:
                    response = await http.post("/Flag", json=make_register_flag())
                except httpx.TransportError:
                    return  # the server was killed under us
                if response.status_code == 201:
                    committed.append(response.json()["id"])

    await asyncio.gather(*(writer() for _ in range(writers)))


async def test_sigkill_during_a_burst_then_restart_loses_and_reorders_nothing(
        migrated_url: str, tmp_path: Path) -> None:
    receiver = await Receiver(secret="s3cret").start()
    server = await start(migrated_url, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=FHIR) as http:
            created = await http.post("/Subscription", json=subscription(
                receiver.url(), max_count=10))
            sub_id = created.json()["id"]
        await receiver.wait_for(lambda r: len(r) >= 1)

        committed: list[str] = []
        writes = asyncio.create_task(burst(server.url, committed, writers=6, each=40))
        while len(committed) < 60 and not writes.done():
            await asyncio.sleep(0.005)
        os.kill(server.proc.pid, signal.SIGKILL)
        await asyncio.to_thread(server.proc.wait)
        await writes
        assert 60 <= len(committed) < 240, "the kill must land in the middle of the burst"

        server = await start(migrated_url, tmp_path)
        total = await total_events(server.url, sub_id)
        assert total >= len(committed)
        await receiver.wait_for(
            lambda r: set(first_seen(notifications(r))) >= set(range(1, total + 1)), timeout=60)
        await asyncio.sleep(0.5)  # anything late would show up as an extra event
        seen = first_seen(notifications(receiver.received))
        assert seen == list(range(1, total + 1))  # no loss, no gap, no reordering
        focus = {e["fullUrl"].rsplit("/", 1)[1]
                 for b in notifications(receiver.received) for e in b["entry"][1:]}
        assert set(committed) <= focus
        assert all(r.signature_ok for r in receiver.received)
    finally:
        server.stop()
        await receiver.stop()
