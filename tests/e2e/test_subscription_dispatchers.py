"""Two `eolc-fhir dispatch` processes on one PostgreSQL share the work: no double delivery."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest

from eolc_fhir.subscriptions.receiver import Receiver
from tests.builders import make_register_flag
from tests.e2e.test_kill9_subscriptions import FAST_RETRIES, FHIR, start
from tests.unit.subscriptions.support import event_numbers, notifications, params_of, subscription

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def start_dispatcher(url: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "eolc_fhir.cli", "dispatch", "--database-url", url,
             "--insecure-dev"],  # as the server: a secure start switches ownerless ones off
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **FAST_RETRIES,
                                                        "EOLC_LOG_LEVEL": "info"})


def sub_of(bundle: dict[str, object]) -> str:
    return str(params_of(bundle)["subscription"]["valueReference"]["reference"])


@pytest.mark.engines("postgresql")
async def test_two_dispatchers_deliver_each_event_once_and_in_order(
        migrated_url: str, tmp_path: Path) -> None:
    receiver = await Receiver(secret="s3cret").start()
    server = await start(migrated_url, tmp_path, EOLC_RUN_DISPATCHER="false")
    logs = [tmp_path / "dispatch-a.log", tmp_path / "dispatch-b.log"]
    dispatchers = [start_dispatcher(migrated_url, log) for log in logs]
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=FHIR, timeout=10) as http:
            subs = [(await http.post("/Subscription", json=subscription(
                receiver.url(f"/{i}"), max_count=3))).json()["id"] for i in range(8)]
            await receiver.wait_for(lambda r: len(r) >= 8, timeout=30)  # handshakes

            async def writer() -> None:
                for _ in range(15):
                    assert (await http.post("/Flag", json=make_register_flag())).status_code == 201

            await asyncio.gather(*(writer() for _ in range(4)))
        await receiver.wait_for(
            lambda r: sum(len(event_numbers(b)) for b in notifications(r)) >= 8 * 60, timeout=60)
        await asyncio.sleep(0.5)
        bundles = notifications(receiver.received)
        for sub_id in subs:
            numbers = [n for b in bundles if sub_of(b).endswith(sub_id) for n in event_numbers(b)]
            assert numbers == list(range(1, 61)), (sub_id, numbers)  # once each, in order
        handshakes = Counter(sub_of(r.bundle) for r in receiver.received
                             if params_of(r.bundle)["type"]["valueCode"] == "handshake")
        assert all(count == 1 for count in handshakes.values())
    finally:
        for proc in dispatchers:
            proc.terminate()
        for proc in dispatchers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()
        await receiver.stop()
    for log in logs:
        text = log.read_text()
        assert "dispatcher" in text and "Traceback" not in text
    print("POSTs per dispatcher:", [re.findall(r"stopped: (\d+) POSTs", log.read_text())
                                     for log in logs])
