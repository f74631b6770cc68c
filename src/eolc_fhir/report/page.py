"""The report as one self-contained HTML page: no script, no outside resource, plots inline."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from html import escape

from eolc_fhir.report.model import TOTAL, MeasureView
from eolc_fhir.report.period import Quarter
from eolc_fhir.report.plots import describe_plot
from eolc_fhir.report.tables import format_score

__all__ = ["PageHeader", "render_page"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
       line-height: 1.45; color: #111; padding: 0 1rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #888; padding: 0.25rem 0.6rem; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
img { max-width: 100%; height: auto; border: 1px solid #ccc; }
section { border-top: 2px solid #333; margin-top: 2rem; }
.meta dt { font-weight: bold; } .meta dd { margin: 0 0 0.4rem 1rem; }
"""


@dataclass(frozen=True)
class PageHeader:
    period: Quarter
    practice: str | None  # "name (ODS)" when the report is for one GP practice
    generated: datetime


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _head(header: PageHeader) -> str:
    title = f"End-of-life care measures, {header.period.label}"
    scope = header.practice or "the whole region (all GP practices)"
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{_e(title)}</h1>\n<dl class=\"meta\">"
            f"<dt>Period</dt><dd>{_e(header.period.label)}: {header.period.start.isoformat()}"
            f" to {header.period.end.isoformat()} (deaths on these days, inclusive)</dd>"
            f"<dt>Population</dt><dd>{_e(scope)}</dd>"
            f"<dt>Generated</dt><dd>{_e(header.generated.isoformat(timespec='seconds'))}</dd>"
            "</dl>\n")


def _contents(views: list[MeasureView]) -> str:
    items = "".join(f'<li><a href="#{_e(v.name)}">{_e(v.title)}</a></li>' for v in views)
    return f"<h2>Measures</h2>\n<ul>{items}</ul>\n"


def _definition(view: MeasureView) -> str:
    better = {"increase": "A higher value is better.", "decrease": "A lower value is better."}
    parts = [f"<p>{_e(view.description)}</p>" if view.description else "",
             f"<p>{_e(better[view.improvement])}</p>" if view.improvement in better else ""]
    if view.definitions:
        items = "".join(
            f"<dt>{_e(view.groups[g].label + ': ' if len(view.groups) > 1 else '')}"
            f"{_e(code)}</dt><dd>{_e(text)}</dd>" for g, code, text in view.definitions
            if g < len(view.groups))
        parts.append(f'<dl class="meta">{items}</dl>')
    parts.append(f"<p>Canonical: <code>{_e(view.url)}</code></p>")
    return "".join(parts)


def _quarter_table(view: MeasureView, group: int) -> str:
    quarter, unit = view.quarters[-1], view.groups[group].unit
    populations = view.populations_of(group)
    head = "".join(f'<th scope="col">{_e(c)}</th>' for c in
                   ["breakdown", "stratum", *populations, f"score ({unit})" if unit else "score"])
    rows = view.select(quarter, group, TOTAL) + [
        r for b in view.breakdowns(group)
        for r in sorted(view.select(quarter, group, b), key=lambda r: r.stratum)]
    body = "".join(
        f'<tr><th scope="row">{_e(r.breakdown)}</th><td>{_e(r.stratum)}</td>'
        + "".join(f'<td class="n">{r.counts.get(c, "")}</td>' for c in populations)
        + f'<td class="n">{_e(format_score(r.score, unit))}</td></tr>' for r in rows)
    caption = f"{view.groups[group].label}, {quarter.label}"
    return f"<table><caption>{_e(caption)}</caption><tr>{head}</tr>{body}</table>"


def _trend_table(view: MeasureView, group: int) -> str:
    unit = view.groups[group].unit
    cells = []
    for quarter in view.quarters:
        total = view.total(quarter, group)
        score = format_score(total.score if total else None, unit) or "no data"
        cells.append(f'<tr><th scope="row">{quarter.label}</th><td class="n">{_e(score)}</td>'
                     "</tr>")
    return (f"<table><caption>Trend (total), {_e(view.groups[group].label)}</caption>"
            f'<tr><th scope="col">quarter</th><th scope="col">score ({_e(unit)})</th></tr>'
            f"{''.join(cells)}</table>")


def _section(view: MeasureView, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    tables = "".join(_quarter_table(view, g.index) + _trend_table(view, g.index)
                     for g in view.groups)
    return (f'<section id="{_e(view.name)}">\n<h2>{_e(view.title)}</h2>\n{_definition(view)}\n'
            f'<img src="data:image/png;base64,{data}" alt="{_e(describe_plot(view))}">\n'
            f"{tables}\n<p>Table: <a href=\"{_e(view.name)}.csv\">{_e(view.name)}.csv</a>; "
            f'plot: <a href="{_e(view.name)}.png">{_e(view.name)}.png</a></p>\n</section>\n')


def render_page(header: PageHeader, measures: list[tuple[MeasureView, bytes]]) -> str:
    """The page: header, contents, then each measure's definition, plot and tables."""
    views = [view for view, _ in measures]
    sections = "".join(_section(view, png) for view, png in measures)
    return f"{_head(header)}{_contents(views)}{sections}</body>\n</html>\n"
