"""Render benchmark results as a markdown report with ratios against the baseline."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from bench.load import LoadResult

__all__ = ["TargetRuns", "median_run", "render_markdown", "READ_GOAL", "GOAL_TARGET"]

READ_GOAL = 0.60  # issue 2: read-by-id throughput at least 60% of the baseline
GOAL_TARGET = "eolc-fhir"


@dataclass
class TargetRuns:
    """All repeats of one target: scenario name -> runs, plus peak RSS per repeat (KiB)."""

    name: str
    runs: dict[str, list[LoadResult]] = field(default_factory=dict)
    peak_rss_kib: list[int] = field(default_factory=list)


def median_run(runs: Sequence[LoadResult]) -> LoadResult:
    """The run with the median throughput (its latencies stay those of one real run)."""
    ordered = sorted(runs, key=lambda run: run.rps)
    return ordered[(len(ordered) - 1) // 2]


def _row(scenario: str, target: str, runs: Sequence[LoadResult]) -> str:
    run = median_run(runs)
    spread = ""
    if len(runs) > 1:
        spread = f" ({min(r.rps for r in runs):,.0f}–{max(r.rps for r in runs):,.0f})"
    return (f"| {scenario} | {target} | {run.rps:,.0f}{spread} | {run.p50_ms:.1f} | "
            f"{run.p90_ms:.1f} | {run.p99_ms:.1f} | {run.errors} |")


def render_markdown(
    targets: Sequence[TargetRuns], header: dict[str, str], baseline: str = "baseline"
) -> str:
    lines = ["# eolc-fhir benchmark: read-by-id and create on SQLite", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines += ["", "| scenario | target | req/s | p50 ms | p90 ms | p99 ms | errors |",
              "|---|---|---:|---:|---:|---:|---:|"]
    scenarios = [s for s in ("read", "create") if any(s in t.runs for t in targets)]
    for scenario in scenarios:
        for target in targets:
            if scenario in target.runs:
                lines.append(_row(scenario, target.name, target.runs[scenario]))
    lines += ["", *_ratio_lines(targets, scenarios, baseline), "", "Peak RSS (VmHWM):", ""]
    for target in targets:
        if target.peak_rss_kib:
            mib = statistics.median(target.peak_rss_kib) / 1024
            lines.append(f"- {target.name}: {mib:.0f} MiB")
    return "\n".join(lines) + "\n"


def _ratio_lines(targets: Sequence[TargetRuns], scenarios: list[str], baseline: str) -> list[str]:
    base = next((t for t in targets if t.name == baseline), None)
    if base is None:
        return []
    lines = ["| ratio ours / baseline | throughput | p50 latency | p99 latency |",
             "|---|---:|---:|---:|"]
    verdicts = []
    for target in targets:
        if target is base:
            continue
        for scenario in scenarios:
            if scenario not in target.runs or scenario not in base.runs:
                continue
            ratios = [_paired(o, b) for o, b in zip(target.runs[scenario], base.runs[scenario],
                                                     strict=False)]
            rps, p50, p99 = (statistics.median(column) for column in zip(*ratios, strict=True))
            spread = ""
            if len(ratios) > 1:
                spread = f" ({min(r[0] for r in ratios):.0%}–{max(r[0] for r in ratios):.0%})"
            lines.append(f"| {scenario}: {target.name} | {rps:.0%}{spread} | {p50:.2f}× | "
                         f"{p99:.2f}× |")
            if scenario == "read" and target.name == GOAL_TARGET:
                verdict = "met" if rps >= READ_GOAL else "NOT met"
                verdicts.append(f"Goal read throughput ≥ {READ_GOAL:.0%} of baseline "
                                f"({target.name}): {verdict} ({rps:.0%}).")
    note = ("Ratios pair each run with the baseline run of the same repeat (measured minutes "
            "apart, not hours) and report the median, which damps machine drift.")
    return lines + ["", note, "", *verdicts]


def _paired(ours: LoadResult, base: LoadResult) -> tuple[float, float, float]:
    """(throughput, p50, p99) ratios of one run against the baseline run of its repeat."""
    rps = ours.rps / base.rps if base.rps else 0.0
    p50 = ours.p50_ms / base.p50_ms if base.p50_ms else 0.0
    p99 = ours.p99_ms / base.p99_ms if base.p99_ms else 0.0
    return rps, p50, p99
