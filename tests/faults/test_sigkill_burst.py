"""SIGKILL of a real server (auth on, PostgreSQL) in the middle of a burst of writes.

After a restart every write that was answered 2xx is stored as answered, with its
subscription events (dense 1..N per subscription, in order), its audit record and its
Provenance; nothing is half-written (current row, history and index rows agree).
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.builders import make_register_flag
from tests.faults.conftest import Clients, FaultDb, launch, secure_env, sigkill
from tests.unit.subscriptions.support import subscription

pytestmark = [pytest.mark.e2e, pytest.mark.pg]

Acked = tuple[str, int]  # (Flag id, version) answered 2xx


async def audited_writes(admin: httpx.AsyncClient, reference: str) -> set[str]:
    """The versions of ``reference`` (``Type/id/_history/v``) that have a write audit record.

    The one place that knows how audit records are read back, so that a change in how
    they are stored changes only this function.
    """
    response = await admin.get("/AuditEvent", params={"entity": reference, "_count": "1000"})
    assert response.status_code == 200, response.text
    records = [e["resource"] for e in response.json().get("entry", [])]
    return {entity["what"]["reference"] for record in records
            if record.get("action") in ("C", "U", "D") for entity in record.get("entity", [])
            if entity["what"]["reference"].startswith(f"{reference}/_history/")}


async def provenance_targets(admin: httpx.AsyncClient, reference: str) -> set[str]:
    response = await admin.get("/Provenance", params={"target": reference, "_count": "1000"})
    assert response.status_code == 200, response.text
    return {t["reference"] for e in response.json().get("entry", [])
            for t in e["resource"]["target"]}


async def writer(base: str, headers: dict[str, str], acked: list[Acked], seed: int) -> None:
    """Create register flags and update this writer's own ones until the server dies."""
    rng = random.Random(seed)
    mine: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=10) as http:
        for _ in range(200):
            try:
                if mine and rng.random() < 0.4:
                    flag_id = rng.choice(list(mine))
                    start = f"2026-02-{rng.randint(1, 28):02d}"
                    body = mine[flag_id] | {"period": {"start": start}}
                    response = await http.put(f"/Flag/{flag_id}", json=body)
                else:
                    response = await http.post("/Flag", json=make_register_flag())
            except httpx.TransportError:
                return  # killed under us: this request's fate is unknown, so not acked
            assert response.status_code in (200, 201), response.text
            stored = response.json()
            mine[stored["id"]] = {k: v for k, v in stored.items() if k != "meta"}
            acked.append((stored["id"], int(stored["meta"]["versionId"])))


async def burst_then_kill(server: Any, headers: dict[str, str]) -> list[Acked]:
    acked: list[Acked] = []
    writes = asyncio.gather(*(writer(server.url, headers, acked, n) for n in range(6)))
    while len(acked) < 60 and not writes.done():
        await asyncio.sleep(0.005)
    await sigkill(server)
    await writes
    assert 60 <= len(acked) < 1200, "the kill must land in the middle of the burst"
    assert any(version > 1 for _, version in acked), "updates were acknowledged too"
    return acked


def check_outbox(db: FaultDb, sub_ids: list[str], acked: list[Acked]) -> None:
    for sub_id in sub_ids:
        rows = db.query("SELECT event_number, focus_id, focus_version FROM subscription_events"
                        " WHERE sub_id = $1 ORDER BY event_number", sub_id)
        numbers = [r["event_number"] for r in rows]
        assert numbers == list(range(1, len(numbers) + 1)), "event numbers dense from 1"
        (state,) = db.query("SELECT last_event_number FROM subscription_state"
                            " WHERE sub_id = $1", sub_id)
        assert state["last_event_number"] == len(numbers)
        assert set(acked) <= {(r["focus_id"], r["focus_version"]) for r in rows}


def check_nothing_half_written(db: FaultDb) -> None:
    current = {(r["res_id"], r["version"]): bytes(r["content"]) for r in db.query(
        "SELECT res_id, version, content FROM resources WHERE res_type = 'Flag'")}
    history = {(r["res_id"], r["version"]): bytes(r["content"]) for r in db.query(
        "SELECT res_id, version, content FROM resource_history WHERE res_type = 'Flag'")}
    for key, content in current.items():
        assert history.get(key) == content, f"Flag/{key[0]}: current and history disagree"
    latest: dict[str, int] = {}
    for flag_id, version in history:
        latest[flag_id] = max(version, latest.get(flag_id, 0))
    assert {(i, v) for i, v in latest.items()} == set(current), "history ahead of current"
    versions = sorted(history)
    for flag_id in latest:
        assert [v for i, v in versions if i == flag_id] == list(range(1, latest[flag_id] + 1))
    indexed = {r["res_id"] for r in db.query(
        "SELECT DISTINCT res_id FROM idx_token WHERE res_type = 'Flag' AND param = 'code'")}
    assert {i for i, _ in current} <= indexed, "a stored Flag without its index rows"


async def test_sigkill_mid_burst_loses_nothing_acknowledged(fault_db: FaultDb,
                                                            tmp_path: Path) -> None:
    env = secure_env(tmp_path / "keys")
    clients = Clients(tmp_path / "keys")
    server = await launch(fault_db.url, tmp_path, **env)
    try:
        centre = await clients.headers(server.url, "coordination-centre")
        sub_ids = []
        async with httpx.AsyncClient(base_url=server.url, headers=centre) as http:
            for _ in range(2):  # the outbox only: nothing listens on port 9
                created = await http.post("/Subscription", json=subscription(
                    "https://127.0.0.1:9/hook", timeout=1))
                assert created.status_code == 201, created.text
                sub_ids.append(created.json()["id"])
        acked = await burst_then_kill(server, await clients.headers(server.url, "gp"))

        server = await launch(fault_db.url, tmp_path, **env)
        admin = await clients.headers(server.url, "admin")
        async with httpx.AsyncClient(base_url=server.url, headers=admin, timeout=10) as http:
            for flag_id, version in acked:
                read = await http.get(f"/Flag/{flag_id}/_history/{version}")
                assert read.status_code == 200, (flag_id, version, read.text)
            for flag_id in {i for i, _ in acked}:
                versions = {f"Flag/{flag_id}/_history/{v}" for i, v in acked if i == flag_id}
                assert versions <= await audited_writes(http, f"Flag/{flag_id}")
                assert versions <= await provenance_targets(http, f"Flag/{flag_id}")
        check_outbox(fault_db, sub_ids, acked)
        check_nothing_half_written(fault_db)
    finally:
        server.stop()
