"""Bar charts as geometry for an inline SVG drawn by a template (no script, no inline style).

The template (``_chart.html``) draws what ``bar_chart`` computes; colours and fonts come
from classes in ``measures.css``, so the page's CSP (``style-src 'self'``) needs nothing
more. A chart is a picture of a table the page also shows; it is never the only carrier.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Chart", "Bar", "Tick", "bar_chart", "nice_top"]

WIDTH = 640
_PLOT_H = 200  # vertical charts: the height of the plot area
_ROW = 30  # horizontal charts: the height of one row


class Valued(Protocol):
    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float | None: ...
    @property
    def chosen(self) -> bool: ...


@dataclass(frozen=True)
class Bar:
    """A bar's rectangle, its name and the value written beside it."""

    x: float
    y: float
    width: float
    height: float
    label: str
    label_x: float
    label_y: float
    value: str
    value_x: float
    value_y: float
    chosen: bool


@dataclass(frozen=True)
class Tick:
    """A grid line across the plot, and its value: from (x1, y1) to (x2, y2)."""

    x1: float
    y1: float
    x2: float
    y2: float
    text: str
    text_x: float
    text_y: float


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    vertical: bool
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    axis: tuple[float, float, float, float]  # the zero line


def nice_top(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return next(float(m * power) for m in (1, 2, 2.5, 5, 10) if m * power >= value)


def _fmt(value: float, unit: str) -> str:
    return f"{value:.1f}%" if unit == "%" else f"{value:g} d"


def _tick_text(value: float, unit: str) -> str:
    return f"{value:g}%" if unit == "%" else f"{value:g}"


def bar_chart(items: Sequence[Valued], unit: str, *, vertical: bool,
              title: str) -> Chart | None:
    """Bars for ``items`` (a percentage, 0 to 100, or days from 0): one per quarter side by
    side (``vertical``) or one per row (per practice). None when there is nothing to draw."""
    if not items:
        return None
    scores = [i.score for i in items if i.score is not None]
    top = 100.0 if unit == "%" else nice_top(max(scores, default=1.0))
    return _columns(items, unit, top, title) if vertical else _rows(items, unit, top, title)


def _columns(items: Sequence[Valued], unit: str, top: float, title: str) -> Chart:
    left, right, above = 56.0, 12.0, 28.0
    base = above + _PLOT_H
    slot = (WIDTH - left - right) / len(items)
    bars = []
    for n, item in enumerate(items):
        height = _PLOT_H * (item.score or 0.0) / top
        x = left + n * slot + slot * 0.2
        value = "none" if item.score is None else _fmt(item.score, unit)
        bars.append(Bar(round(x, 1), round(base - height, 1), round(slot * 0.6, 1),
                        round(height, 1), item.label, round(x + slot * 0.3, 1), base + 18,
                        value, round(x + slot * 0.3, 1), round(base - height - 6, 1),
                        item.chosen))
    ticks = [Tick(left, round(base - _PLOT_H * k / 4, 1), WIDTH - right,
                  round(base - _PLOT_H * k / 4, 1), _tick_text(top * k / 4, unit),
                  left - 6, round(base - _PLOT_H * k / 4 + 4, 1)) for k in range(5)]
    return Chart(title, WIDTH, int(base + 32), True, tuple(bars), tuple(ticks),
                 (left, base, WIDTH - right, base))


def _rows(items: Sequence[Valued], unit: str, top: float, title: str) -> Chart:
    # room for the longest name at about 7.5 px a character (13 px text)
    left = min(260.0, 16 + 7.5 * max(len(i.label) for i in items))
    right, above = 72.0, 12.0
    span = WIDTH - left - right
    bottom = above + _ROW * len(items)
    bars = []
    for n, item in enumerate(items):
        width = span * (item.score or 0.0) / top
        y = above + n * _ROW + 6
        value = "none" if item.score is None else _fmt(item.score, unit)
        bars.append(Bar(left, y, round(width, 1), _ROW - 12, item.label, left - 8, y + 13,
                        value, round(left + width + 6, 1), y + 13, item.chosen))
    ticks = [Tick(round(left + span * k / 4, 1), above, round(left + span * k / 4, 1), bottom,
                  _tick_text(top * k / 4, unit), round(left + span * k / 4, 1), bottom + 16)
             for k in range(5)]
    return Chart(title, WIDTH, int(bottom + 28), False, tuple(bars), tuple(ticks),
                 (left, above, left, bottom))
