"""The benchmark's own parts: the baseline app, synthetic data and the report arithmetic."""

from __future__ import annotations

import json
import os
import time

import httpx

from bench import baseline_app
from bench.cpu import CpuMeter
from bench.data import nhs_number, synthetic_patient
from bench.load import LoadResult
from bench.report import TargetRuns, median_run, render_markdown


def _check_digit_ok(number: str) -> bool:
    total = sum(int(d) * (10 - i) for i, d in enumerate(number[:9]))
    return (11 - total % 11) % 11 == int(number[9])


def test_nhs_numbers_carry_a_valid_check_digit() -> None:
    import random

    rng = random.Random(7)
    numbers = [nhs_number(rng) for _ in range(200)]
    assert all(len(n) == 10 and n.isdigit() and _check_digit_ok(n) for n in numbers)


def test_synthetic_patient_is_about_two_kilobytes_and_deterministic() -> None:
    body = json.dumps(synthetic_patient(3)).encode()
    assert 1500 <= len(body) <= 2500
    assert synthetic_patient(3) == synthetic_patient(3)
    assert synthetic_patient(3) != synthetic_patient(4)


async def test_baseline_returns_the_stored_bytes_unchanged() -> None:
    transport = httpx.ASGITransport(app=baseline_app.app)
    body = b'{"resourceType": "Patient",  "id": "kept as sent"}'
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        created = await client.post("/Patient", content=body)
        assert created.status_code == 201
        read = await client.get(created.headers["Location"])
        missing = await client.get("/Patient/nope")
    assert read.status_code == 200
    assert read.content == body
    assert read.headers["content-type"] == "application/fhir+json"
    assert missing.status_code == 404


def _run(rps: float, p50: float = 1.0) -> LoadResult:
    return LoadResult("wrk", int(rps * 10), 10.0, p50, p50 * 2, p50 * 3, p50 * 4, 0)


def test_median_run_keeps_one_real_run() -> None:
    runs = [_run(300), _run(100), _run(200)]
    assert median_run(runs) is runs[2]


def test_report_gives_ratios_and_the_read_goal_verdict() -> None:
    baseline = TargetRuns("baseline", {"read": [_run(1000)], "create": [_run(500)]}, [40960])
    ours = TargetRuns("eolc-fhir", {"read": [_run(650, 2.0)], "create": [_run(100)]}, [204800])
    text = render_markdown([baseline, ours], {"load": "wrk"})
    assert "| read: eolc-fhir | 65% | 2.00× | 2.00× |" in text
    assert "| create: eolc-fhir | 20% |" in text
    assert "(eolc-fhir): met (65%)" in text
    assert "- eolc-fhir: 200 MiB" in text
    slow = TargetRuns("eolc-fhir", {"read": [_run(500)]}, [1024])
    floor = TargetRuns("fastapi-floor", {"read": [_run(700)]}, [1024])
    text = render_markdown([baseline, slow, floor], {})
    assert "NOT met (50%)" in text
    assert "| read: fastapi-floor | 70% |" in text
    assert "(fastapi-floor)" not in text  # the goal is about eolc-fhir only


def test_ratios_pair_runs_of_the_same_repeat() -> None:
    # Drift: the machine halves its speed in repeat 2; each pair stays at 50%.
    baseline = TargetRuns("baseline", {"read": [_run(1000), _run(500), _run(900)]}, [1024])
    ours = TargetRuns("eolc-fhir", {"read": [_run(500), _run(250), _run(450)]}, [1024])
    text = render_markdown([baseline, ours], {})
    assert "| read: eolc-fhir | 50% (50%–50%) |" in text
    assert "NOT met (50%)" in text


def test_the_cpu_meter_counts_a_busy_process() -> None:
    meter = CpuMeter([os.getpid()])
    meter.start()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # one core's worth of work, less on a shared machine
        pass
    use = meter.stop()
    assert 0.05 < use.server_cores <= 1.2
    assert 0.0 < use.machine_busy <= 1.0
    assert "cores" in use.text()
