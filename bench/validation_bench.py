"""Benchmark: validation cost per resource (base + profile) for each profile, and compile time.

    python -m bench.validation_bench [--iterations 2000] [--repeat 3]

For the full example of each profile (tests/builders.py) it measures, in one process:
- ``model_validate``: the R4B model check of the dict (the base stage's core);
- ``check_resource``: the project's whole base stage (eolc_fhir.fhir.parse), if present;
- ``profile``: ``ProfileSet.validate`` (the profile stage);
- ``total``: base (check_resource, or model_validate) + profile.
Figures are medians in microseconds over all iterations of the median repeat.
Compile time: ``ProfileSet.load(profiles/)``, the first load in the process (cold:
includes fhirpathpy's grammar and model tables) and the median of later loads (warm).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from eolc_fhir.fhir.models import model_class
from eolc_fhir.validation import ProfileSet
from tests.builders import BUILDERS, make_care_plan_full

__all__ = ["main"]

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
GOAL_US = 1000.0  # issue 4: under 1 ms median per ACP CarePlan validation
LARGE_ACP = "EolcAdvanceCarePlan (large)"


def large_care_plan() -> dict[str, Any]:
    """A ~3.8 KB ACP, the size the R4B model was first measured on (docs/performance.md)."""
    plan = make_care_plan_full()
    detail = plan["activity"][0]["detail"]
    plan["activity"] += [
        {"detail": {**detail, "code": {"text": f"Treatment preference {i}"}}} for i in range(10)
    ]
    plan["note"] += [{"text": "What matters to me: " + "family, garden, music. " * 4}] * 3
    return plan


def example(name: str) -> dict[str, Any]:
    return large_care_plan() if name == LARGE_ACP else BUILDERS[name][1]()


def _base_stage() -> Callable[[dict[str, Any]], Any] | None:
    try:
        from eolc_fhir.fhir.parse import check_resource
    except ImportError:  # the foundation's reader is not there yet
        return None
    return check_resource


def _median_us(fn: Callable[[], Any], iterations: int) -> float:
    samples = []
    for _ in range(iterations):
        start = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - start)
    return statistics.median(samples) / 1000


def measure_compile(repeat: int) -> tuple[float, float]:
    start = time.perf_counter()
    ProfileSet.load(PROFILES)
    cold = (time.perf_counter() - start) * 1000
    warm = []
    for _ in range(max(repeat, 3)):
        start = time.perf_counter()
        ProfileSet.load(PROFILES)
        warm.append((time.perf_counter() - start) * 1000)
    return cold, statistics.median(warm)


def measure_profile(
    name: str, profiles: ProfileSet, iterations: int, repeat: int
) -> dict[str, float | str | int]:
    resource = example(name)
    model = model_class(resource["resourceType"])
    base = _base_stage()
    assert profiles.validate(resource) == [], f"{name} full example must be valid"
    runs: list[dict[str, float]] = []
    for _ in range(repeat):
        row = {
            "model_validate": _median_us(lambda: model.model_validate(resource), iterations),
            "profile": _median_us(lambda: profiles.validate(resource), iterations),
        }
        if base is not None:
            row["check_resource"] = _median_us(lambda: base(resource), iterations)
        runs.append(row)
    runs.sort(key=lambda r: r["profile"])
    chosen = runs[len(runs) // 2]
    base_us = chosen.get("check_resource", chosen["model_validate"])
    return {
        "profile_name": name,
        "type": resource["resourceType"],
        "bytes": len(orjson.dumps(resource)),
        **chosen,
        "total": base_us + chosen["profile"],
    }


def render(rows: list[dict[str, Any]], cold: float, warm: float, iterations: int) -> str:
    has_base = "check_resource" in rows[0]
    head = "| profile | type | bytes | R4B model_validate µs |"
    head += " check_resource µs |" if has_base else ""
    head += " profile µs | base + profile µs |"
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for r in rows:
        line = f"| {r['profile_name']} | {r['type']} | {r['bytes']} | {r['model_validate']:.0f} |"
        line += f" {r['check_resource']:.0f} |" if has_base else ""
        line += f" {r['profile']:.0f} | {r['total']:.0f} |"
        lines.append(line)
    acp = next(r for r in rows if r["profile_name"] == LARGE_ACP)
    lines += [
        "",
        f"Medians over {iterations} iterations (median of the repeats); "
        f"Python {platform.python_version()}.",
        f"Compile (ProfileSet.load): cold {cold:.0f} ms (first in process), warm {warm:.0f} ms.",
        f"ACP CarePlan ({acp['bytes']} bytes): profile stage {acp['profile']:.0f} µs, "
        f"base + profile {acp['total']:.0f} µs "
        f"(goal < {GOAL_US:.0f} µs: {'met' if acp['total'] < GOAL_US else 'NOT met'}; "
        f"profile stage alone {'met' if acp['profile'] < GOAL_US else 'NOT met'}).",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cold, warm = measure_compile(args.repeat)
    profiles = ProfileSet.load(PROFILES)
    names = [*BUILDERS, LARGE_ACP]
    rows = [measure_profile(n, profiles, args.iterations, args.repeat) for n in names]
    print(render(rows, cold, warm, args.iterations))


if __name__ == "__main__":
    main()
