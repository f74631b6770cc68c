"""Write a report folder: a CSV table and a PNG plot per measure, and index.html with them all."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from eolc_fhir.report.model import MeasureInput, MeasureView, measure_view
from eolc_fhir.report.page import PageHeader, render_page
from eolc_fhir.report.plots import write_png
from eolc_fhir.report.tables import write_csv

__all__ = ["ReportFiles", "write_report"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReportFiles:
    page: Path
    tables: list[Path]
    plots: list[Path]


def _file_stem(view: MeasureView, taken: set[str]) -> str:
    """A file name from the measure's name that cannot leave the folder or clash."""
    stem = _UNSAFE.sub("-", view.name).strip(".-") or "measure"
    unique, n = stem, 2
    while unique in taken:
        unique, n = f"{stem}-{n}", n + 1
    taken.add(unique)
    return unique


def write_report(out: Path, header: PageHeader, inputs: Sequence[MeasureInput],
                 step: Callable[[str], None] = lambda _name: None) -> ReportFiles:
    """Render every measure (calling ``step`` after each) and then the page."""
    out.mkdir(parents=True, exist_ok=True)
    rendered: list[tuple[MeasureView, bytes]] = []
    files = ReportFiles(out / "index.html", [], [])
    taken: set[str] = set()
    for source in inputs:
        view = measure_view(source)
        view = replace(view, name=_file_stem(view, taken))
        files.tables.append(write_csv(view, out / f"{view.name}.csv"))
        files.plots.append(write_png(view, out / f"{view.name}.png"))
        rendered.append((view, files.plots[-1].read_bytes()))
        step(view.title)
    files.page.write_text(render_page(header, rendered), encoding="utf-8")
    return files

