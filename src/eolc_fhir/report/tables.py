"""A measure as a table: rows for the total and each stratum, every quarter, as CSV or lists."""

from __future__ import annotations

import csv
from pathlib import Path

from eolc_fhir.report.model import TOTAL, MeasureView, Row

__all__ = ["table_header", "table_rows", "write_csv", "format_score"]


def format_score(score: float | None, unit: str) -> str:
    if score is None:
        return ""
    return f"{score:.1f}" if unit in ("%", "days") else f"{score:g}"


def table_header(view: MeasureView) -> list[str]:
    return ["period", "group", "breakdown", "stratum", *view.populations, "score", "unit"]


def _ordered(view: MeasureView) -> list[Row]:
    """The report's quarter first, then the ones before; the total before the strata."""
    rows: list[Row] = []
    for quarter in reversed(view.quarters):
        for group in view.groups:
            rows.extend(view.select(quarter, group.index, TOTAL))
            for breakdown in view.breakdowns(group.index):
                rows.extend(sorted(view.select(quarter, group.index, breakdown),
                                   key=lambda r: r.stratum))
    return rows


def table_rows(view: MeasureView) -> list[list[str]]:
    populations = view.populations
    lines = []
    for row in _ordered(view):
        group = view.groups[row.group]
        counts = [str(row.counts[code]) if code in row.counts else "" for code in populations]
        lines.append([row.quarter.label, group.key, row.breakdown, row.stratum, *counts,
                      format_score(row.score, group.unit), group.unit])
    return lines


def write_csv(view: MeasureView, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(table_header(view))
        writer.writerows(table_rows(view))
    return path
