"""PostgreSQL stopped for ~10 s under load and started again; the server rides it out.

During the outage every request is answered quickly (within the connect timeout) with
a 2xx (from memory) or a 503 OperationOutcome with Retry-After, never a 500, never a
hang; /readyz says 503. Afterwards the server recovers by itself: /readyz 200, writes
succeed, and the dispatcher delivers a new change to the webhook receiver.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from eolc_fhir.subscriptions.receiver import Receiver
from tests.builders import NHS_NUMBER_SYSTEM, VALID_NHS_NUMBERS, make_patient, make_register_flag
from tests.faults.conftest import FHIR_JSON, FaultDb, launch
from tests.unit.subscriptions.support import notifications, subscription

pytestmark = [pytest.mark.e2e, pytest.mark.pg]

CONNECT_TIMEOUT = 2.0
OUTAGE_SECONDS = 10.0
SLACK_SECONDS = 3.0  # scheduling on a busy 2-core machine


@dataclass
class Answer:
    kind: str
    status: int  # 0: no answer (transport error)
    seconds: float
    retry_after: str | None
    body_type: str | None
    phase: str  # before | outage | after (outage if it overlapped the outage)


@dataclass
class Load:
    phase: str = "before"
    stop: bool = False
    answers: list[Answer] = field(default_factory=list)


async def _one(http: httpx.AsyncClient, kind: str, flag_id: str) -> httpx.Response:
    if kind == "read":
        return await http.get(f"/Flag/{flag_id}")
    if kind == "wishes":
        return await http.get("/Patient/$wishes", params={
            "identifier": f"{NHS_NUMBER_SYSTEM}|{VALID_NHS_NUMBERS[0]}"})
    if kind == "search":
        return await http.get("/Flag", params={"status": "active", "_count": "5"})
    return await http.post("/Flag", json=make_register_flag())


async def client_loop(base: str, kind: str, flag_id: str, load: Load) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30,
                                 headers={"Content-Type": FHIR_JSON}) as http:
        while not load.stop:
            phase = load.phase
            began = time.monotonic()
            try:
                response = await _one(http, kind, flag_id)
                status, retry = response.status_code, response.headers.get("Retry-After")
                body = response.json().get("resourceType") if response.content else None
            except httpx.TransportError:
                status, retry, body = 0, None, None
            load.answers.append(Answer(kind, status, time.monotonic() - began, retry, body,
                                       "outage" if "outage" in (phase, load.phase) else phase))
            await asyncio.sleep(0.05)


async def wait_ready(http: httpx.AsyncClient, want: int, within: float) -> float:
    began = time.monotonic()
    while time.monotonic() - began < within:
        if (await http.get("/readyz")).status_code == want:
            return time.monotonic() - began
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz did not answer {want} within {within} s")


async def test_postgresql_outage_answers_503_then_recovers_without_restart(
        fault_db: FaultDb, tmp_path: Path) -> None:
    receiver = await Receiver(secret="s3cret").start()
    server = await launch(fault_db.url, tmp_path, "--insecure-dev",
                          EOLC_DB_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT))
    load = Load()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                     headers={"Content-Type": FHIR_JSON}) as http:
            put = await http.put("/Patient/eolc-patient-1", json=make_patient(id="eolc-patient-1"))
            assert put.status_code in (200, 201), put.text
            flag_id = (await http.post("/Flag", json=make_register_flag())).json()["id"]
            created = await http.post("/Subscription", json=subscription(receiver.url()))
            assert created.status_code == 201, created.text
            await receiver.wait_for(lambda r: len(r) >= 1)  # the handshake

            kinds = ["read", "wishes", "search", "write", "write"]
            clients = asyncio.gather(*(client_loop(server.url, k, flag_id, load) for k in kinds))
            await asyncio.sleep(1.0)
            load.phase = "outage"
            await asyncio.to_thread(fault_db.pg.halt)
            await wait_ready(http, 503, within=CONNECT_TIMEOUT + SLACK_SECONDS)
            await asyncio.sleep(OUTAGE_SECONDS)
            assert (await http.get("/readyz")).status_code == 503
            assert (await http.get("/healthz")).status_code == 200
            await asyncio.to_thread(fault_db.pg.resume)
            await wait_ready(http, 200, within=20)
            load.phase = "after"
            await asyncio.sleep(1.0)
            load.stop = True
            await clients

            # Recovered by itself: a write now is stored and delivered.
            after = await http.post("/Flag", json=make_register_flag())
            assert after.status_code == 201, after.text
            new_id = after.json()["id"]
            await receiver.wait_for(lambda r: any(
                e["fullUrl"].endswith(f"/Flag/{new_id}")
                for b in notifications(r) for e in b["entry"][1:]), timeout=20)
        check_answers(load.answers, server.log)
    finally:
        load.stop = True
        server.stop()
        await receiver.stop()


def _crashes(log: Path | None) -> str:
    """The server's own account of its 500s (exception type and where; never a message)."""
    if log is None or not log.exists():
        return ""
    lines = log.read_text(errors="replace").splitlines()
    found = [line for n, line in enumerate(lines) if "internal error" in line
             or (n and "internal error" in lines[n - 1])]
    return "\nserver log:\n" + "\n".join(found[:10]) if found else ""


def check_answers(answers: list[Answer], log: Path | None = None) -> None:
    during = [a for a in answers if a.phase == "outage"]
    assert len(during) >= 20, "the load kept asking during the outage"
    assert any(a.status == 503 for a in during), "the outage was noticed"
    bad = [a for a in answers if not (200 <= a.status < 300 or a.status == 503)]
    assert not bad, f"only 2xx and 503 allowed: {bad[:5]}{_crashes(log)}"
    for a in answers:
        if a.status == 503:
            assert a.retry_after and int(a.retry_after) > 0, a
            assert a.body_type == "OperationOutcome", a
    slowest = max(a.seconds for a in answers)
    assert slowest < CONNECT_TIMEOUT + SLACK_SECONDS, f"a request hung {slowest:.1f} s"
    after = [a for a in answers if a.phase == "after"]
    assert after and all(a.status < 300 for a in after), [a for a in after if a.status >= 300]
