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
_TREND_HEIGHT = 2.2  # inches
_WIDTH = 11.0
_LABEL_CHARS = 48
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


def _short(label: str) -> str:
    """A bar's label of at most _LABEL_CHARS, keeping a trailing "(code)" whole (the page
    and the table give the full name)."""
    if len(label) <= _LABEL_CHARS:
        return label
    name, _, code = label.rpartition(" (")
    if name and code.endswith(")") and len(code) < 15:
        room = _LABEL_CHARS - len(code) - 2
        return f"{textwrap.shorten(name, room, placeholder='...')} ({code}"
    return textwrap.shorten(label, _LABEL_CHARS, placeholder="...")


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
    labels = [_TOTAL_LABEL if r.breakdown == TOTAL else _short(r.stratum) for r in rows]
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
    ax.set_ylim(-0.6, len(rows) - 0.4)
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


def _panels(view: MeasureView) -> tuple[float, float, list[tuple[float, float, float]]]:
    """A fixed layout, in inches (matplotlib's constrained layout cost a third of the time):
    the figure's height, the left margin, and per group the top of its trend panel, the top
    of its bars panel and the bars panel's height."""
    labels = [len(_short(r.stratum)) for g in view.groups for r in _bar_rows(view, g)[1]]
    left = max(1.0, 0.3 + 0.072 * max(labels + [len(_TOTAL_LABEL)]))  # a character at 9 pt
    y, panels = 0.3 + 0.25 * view.title.count("\n") + 0.3 * (len(view.title) > 90), []
    for group in view.groups:
        y += 0.75 if len(view.groups) > 1 else 0.45  # the trend's title (and the group's)
        trend_top = y
        y += _TREND_HEIGHT + 0.8  # its quarter labels, then the bars' title
        bars_height = 0.3 * (len(_bar_rows(view, group)[1]) + 1) + 0.2
        panels.append((trend_top, y, bars_height))
        y += bars_height + 0.65  # value ticks and the axis label
    return y + 0.1, left, panels


def write_png(view: MeasureView, path: Path) -> Path:
    """Per group of the measure, the trend above the bars; 100 dpi keeps each file small."""
    height, left, panels = _panels(view)
    figure = Figure(figsize=(_WIDTH, height))
    FigureCanvasAgg(figure)  # the non-interactive backend: no display needed
    width = (_WIDTH - left - 0.35) / _WIDTH

    def axes(top: float, tall: float) -> Axes:
        return figure.add_axes((left / _WIDTH, 1 - (top + tall) / height, width, tall / height))

    for group, (trend_top, bars_top, bars_height) in zip(view.groups, panels, strict=True):
        trend = axes(trend_top, _TREND_HEIGHT)
        _draw_trend(trend, view, group)
        _draw_bars(axes(bars_top, bars_height), view, group)
        if len(view.groups) > 1:
            label = textwrap.shorten(group.label, 100, placeholder="...")
            trend.set_title(f"{label}\n{trend.get_title()}", fontsize=11)
    figure.suptitle(textwrap.fill(view.title, 90), fontsize=13, fontweight="bold",
                    y=1 - 0.12 / height, va="top")
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
