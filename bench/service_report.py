"""Markdown table and PNG plot for bench.service_bench."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.load import LoadResult

__all__ = ["Measurement", "render_markdown", "render_png", "WISHES", "P99_GOAL_MS"]

WISHES = "$wishes by NHS number"
P99_GOAL_MS = 20.0  # issue 7: p99 under 20 ms at 16 clients
THROUGHPUT_GOAL = 0.5  # and at least half the baseline's throughput
CREATE = "validated create (CarePlan)"
TRANSACTION = "transaction of 20 entries"
READ = "read Patient by id"
FLOOR = "engine floor: 2 KB row + 5 index rows, one commit each"


@dataclass
class Measurement:
    engine: str  # sqlite | postgresql | - (baseline)
    target: str  # eolc-fhir | eolc-fhir (auth on) | baseline | floor
    scenario: str
    connections: int
    result: LoadResult


def _row(m: Measurement) -> str:
    r = m.result
    return (f"| {m.engine} | {m.scenario} | {m.connections} | {r.rps:,.0f} | {r.p50_ms:.1f} | "
            f"{r.p99_ms:.1f} | {r.errors} |")


def _baseline(rows: list[Measurement], connections: int) -> LoadResult | None:
    return next((m.result for m in rows if m.target == "baseline"
                 and m.connections == connections), None)


def _verdicts(rows: list[Measurement]) -> list[str]:
    lines = []
    for m in rows:
        if m.scenario != WISHES or m.connections != 16:
            continue
        base = _baseline(rows, 16)
        ratio = m.result.rps / base.rps if base and base.rps else 0.0
        p99_ok = "met" if m.result.p99_ms < P99_GOAL_MS else "NOT met"
        rps_ok = "met" if ratio >= THROUGHPUT_GOAL else "NOT met"
        lines.append(f"- {m.engine}: $wishes p99 at 16 clients {m.result.p99_ms:.1f} ms "
                     f"(goal < {P99_GOAL_MS:g} ms: {p99_ok}); throughput {ratio:.0%} of the "
                     f"baseline's read-by-id (goal >= {THROUGHPUT_GOAL:.0%}: {rps_ok})")
    return lines


def _find(rows: list[Measurement], engine: str, target: str,
          scenario: str) -> LoadResult | None:
    return next((m.result for m in rows if m.engine == engine and m.target == target
                 and m.scenario == scenario), None)


def _ratio(part: LoadResult | None, whole: LoadResult | None) -> str:
    if part is None or whole is None or not whole.rps:
        return "not measured"
    return f"{part.rps / whole.rps:.0%}"


def write_verdicts(rows: list[Measurement]) -> list[str]:
    """Issue 13: creates against the engine's own floor, transactions, reads by id."""
    lines = []
    base = _baseline(rows, 16)
    for engine in sorted({m.engine for m in rows if m.target == "floor"}):
        floor = _find(rows, engine, "floor", FLOOR)
        for target in ("eolc-fhir", "eolc-fhir (auth on)"):
            create = _find(rows, engine, target, CREATE)
            if create is not None:
                lines.append(f"- {engine}, {target}: validated create at 16 clients "
                             f"{create.rps:,.0f}/s = {_ratio(create, floor)} of the engine floor "
                             f"({floor.rps if floor else 0:,.0f}/s; goal >= 50%)")
            read = _find(rows, engine, target, READ)
            if read is not None:
                lines.append(f"- {engine}, {target}: read by id {read.rps:,.0f}/s = "
                             f"{_ratio(read, base)} of the bare baseline (goal >= 80%)")
        tx = _find(rows, engine, "eolc-fhir", TRANSACTION)
        if tx is not None:
            lines.append(f"- {engine}: transaction of 20 entries at 4 clients {tx.rps:,.1f}/s "
                         "(goal >= 60/s on SQLite)")
    return lines


def render_markdown(rows: list[Measurement], header: dict[str, str], png_name: str) -> str:
    lines = ["# eolc-fhir service benchmark", ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines += ["", "| engine | scenario | clients | req/s | p50 ms | p99 ms | errors |",
              "|---|---|---:|---:|---:|---:|---:|"]
    lines += [_row(m) for m in rows]
    lines += ["", "Goals (issue 7):", "", *_verdicts(rows)]
    lines += ["", "Goals (issue 13):", "", *write_verdicts(rows), "", f"![plot]({png_name})", ""]
    return "\n".join(lines)


def render_png(rows: list[Measurement], path: Path) -> None:
    """Two panels: req/s and p50/p99 latency per scenario, engine by engine."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{m.engine} {m.scenario} (c={m.connections})" for m in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 0.42 * len(rows) + 1.5))
    y = list(range(len(rows)))
    colors = ["#888888" if m.target == "baseline" else
              "#1f77b4" if m.engine == "sqlite" else "#d62728" for m in rows]
    left.barh(y, [m.result.rps for m in rows], color=colors)
    left.set_yticks(y, labels, fontsize=8)
    left.invert_yaxis()
    left.set_xscale("log")
    left.set_xlabel("requests/s (log)")
    right.barh([v - 0.2 for v in y], [m.result.p50_ms for m in rows], height=0.4, label="p50",
               color="#9ecae1")
    right.barh([v + 0.2 for v in y], [m.result.p99_ms for m in rows], height=0.4, label="p99",
               color="#3182bd")
    right.axvline(P99_GOAL_MS, color="#d62728", linestyle="--", label="p99 goal ($wishes)")
    right.set_yticks(y, [""] * len(rows))
    right.invert_yaxis()
    right.set_xscale("log")
    right.set_xlabel("latency ms (log)")
    right.legend(fontsize=8)
    fig.suptitle("eolc-fhir service benchmark (grey: bare baseline, blue: SQLite, red: PostgreSQL)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
