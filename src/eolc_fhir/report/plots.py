"""A measure as a PNG: the quarter's value per stratum as bars, the four-quarter trend as a line."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from eolc_fhir.report.model import TOTAL, GroupView, MeasureView, Row
from eolc_fhir.report.tables import format_score

__all__ = ["write_png", "describe_plot"]

# Okabe-Ito blue and vermillion (distinguishable with the common colour-vision deficiencies);
# the total is also hatched and named, so no meaning rests on colour alone.
_STRATUM_COLOUR = "#0072B2"
_TOTAL_COLOUR = "#D55E00"
_TOTAL_LABEL = "All (total)"
_TREND_HEIGHT = 2.6  # inches
_DIGITS = re.compile(r"(\d+)")


def _bar_rows(view: MeasureView, group: GroupView) -> tuple[str | None, list[Row]]:
    """The breakdown shown as bars (GP practices when stratified so) and its rows, total last."""
    quarter = view.quarters[-1]
    breakdown = view.practice_breakdown(group.index) or next(
        iter(view.breakdowns(group.index)), None)
    rows = sorted(view.select(quarter, group.index, breakdown), key=_natural,
                  reverse=True) if breakdown else []  # drawn bottom up: A is at the top
    return breakdown, rows + view.select(quarter, group.index, TOTAL)


def _natural(row: Row) -> list[tuple[int, str]]:
    """Practice 2 before Practice 10."""
    return [(int(part), "") if part.isdigit() else (-1, part.lower())
            for part in _DIGITS.split(row.stratum)]


def _value_text(row: Row, group: GroupView, space: str = " ") -> str:
    if row.score is None:
        return "no data"
    text = format_score(row.score, group.unit) + ("%" if group.unit == "%" else f" {group.unit}")
    if group.proportion and "denominator" in row.counts:
        text += f"{space}({row.counts.get('numerator', 0)}/{row.counts['denominator']})"
    return text


def _axis_label(group: GroupView) -> str:
    return "per cent (%)" if group.proportion else (group.unit or "value")


def _draw_bars(ax: Axes, view: MeasureView, group: GroupView) -> None:
    breakdown, rows = _bar_rows(view, group)
    labels = [_TOTAL_LABEL if r.breakdown == TOTAL else r.stratum for r in rows]
    values = [r.score or 0.0 for r in rows]
    bars = ax.barh(range(len(rows)), values, color=[
        _TOTAL_COLOUR if r.breakdown == TOTAL else _STRATUM_COLOUR for r in rows])
    for bar, row in zip(bars, rows, strict=True):
        if row.breakdown == TOTAL:
            bar.set_hatch("//")
            bar.set_edgecolor("black")
        ax.annotate(_value_text(row, group), (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), labels, fontsize=9)
    top = max(values, default=0.0)
    if group.proportion:  # room right of 100% for the value labels
        ax.set_xlim(0, 122)
        ax.set_xticks(range(0, 101, 20))
    else:
        ax.set_xlim(0, max(1.0, top * 1.35))
    ax.set_xlabel(_axis_label(group))
    where = f"by {breakdown}" if breakdown else "total"
    ax.set_title(f"{view.quarters[-1].label} {where}", fontsize=11)


def _draw_trend(ax: Axes, view: MeasureView, group: GroupView) -> None:
    totals = [view.total(q, group.index) for q in view.quarters]
    scores = [t.score if t is not None and t.score is not None else float("nan") for t in totals]
    positions = list(range(len(view.quarters)))
    ax.plot(positions, scores, color=_TOTAL_COLOUR, marker="o", linewidth=2,
            label=_TOTAL_LABEL)
    for x, total in zip(positions, totals, strict=True):
        text = _value_text(total, group, "\n") if total is not None else "no data"
        y = total.score if total is not None and total.score is not None else 0.0
        ax.annotate(text, (x, y), xytext=(0, 6), textcoords="offset points", ha="center",
                    va="bottom", fontsize=9)
    ax.set_xticks(positions, [q.label for q in view.quarters])
    finite = [s for s in scores if s == s]
    if group.proportion:  # room above 100% for the labels
        ax.set_ylim(0, 125)
        ax.set_yticks(range(0, 101, 20))
    else:
        ax.set_ylim(0, max(1.0, max(finite, default=0.0) * 1.4))
    ax.set_xlim(-0.5, len(positions) - 0.5)
    ax.set_ylabel(_axis_label(group))
    ax.set_title("Trend over the last four quarters (total)", fontsize=11)
    ax.grid(axis="y", linestyle=":", linewidth=0.8)


def write_png(view: MeasureView, path: Path) -> Path:
    """Per group of the measure, the trend above the bars; 100 dpi keeps each file small."""
    heights = []
    for group in view.groups:
        heights += [_TREND_HEIGHT, max(1.6, 0.3 * (len(_bar_rows(view, group)[1]) + 2))]
    figure = Figure(figsize=(11, sum(heights) + 0.6), layout="constrained")
    FigureCanvasAgg(figure)  # the non-interactive backend: no display needed
    grid = figure.add_gridspec(len(heights), 1, height_ratios=heights)
    for number, group in enumerate(view.groups):
        trend = figure.add_subplot(grid[2 * number])
        _draw_trend(trend, view, group)
        _draw_bars(figure.add_subplot(grid[2 * number + 1]), view, group)
        if len(view.groups) > 1:
            label = textwrap.shorten(group.label, 100, placeholder="...")
            trend.set_title(f"{label}\n{trend.get_title()}", fontsize=11)
    figure.suptitle(textwrap.fill(view.title, 90), fontsize=13, fontweight="bold")
    figure.savefig(path, format="png", dpi=100)
    return path


def describe_plot(view: MeasureView) -> str:
    """The plot in words, for the page's alt text."""
    parts = []
    for group in view.groups:
        trend = ", ".join(
            f"{q.label} {_value_text(t, group) if (t := view.total(q, group.index)) else 'no data'}"
            for q in view.quarters)
        prefix = f"{group.label}: " if len(view.groups) > 1 else ""
        parts.append(f"{prefix}total by quarter: {trend}.")
    return f"{view.title}. " + " ".join(parts) + " Bars show the last quarter per stratum."
