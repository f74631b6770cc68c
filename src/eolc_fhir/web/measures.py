"""The measures page's figures: quarters, and reports read into rows per quarter and practice.

Pure: the route (api/console_measures.py) fetches the Measures and the reports
through the public API; this turns them into what the template shows. Nothing
here reads a patient: only the counts and scores of summary reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from eolc_fhir.web.charts import Chart, bar_chart

__all__ = ["Quarter", "parse_quarter", "recent_quarters", "measure_choices", "GroupView",
           "Figure", "group_views"]

_ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
_NAMES = {"initial-population": "Initial population", "denominator": "Denominator",
          "numerator": "Numerator", "measure-population": "Measure population",
          "measure-observation": "Observations", "denominator-exclusion": "Excluded",
          "numerator-exclusion": "Numerator excluded"}
_BETTER = {"increase": "Higher is better.", "decrease": "Lower is better."}


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter (1 = January to March)."""

    year: int
    number: int

    @property
    def key(self) -> str:
        return f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.number}"

    def period(self) -> dict[str, str]:
        """The $evaluate-measure period: first and last day of the quarter."""
        first = 3 * self.number - 2
        last = {1: 31, 2: 30, 3: 30, 4: 31}[self.number]
        return {"periodStart": f"{self.year}-{first:02d}-01",
                "periodEnd": f"{self.year}-{first + 2:02d}-{last}"}

    def back(self, n: int) -> Quarter:
        index = self.year * 4 + self.number - 1 - n
        return Quarter(index // 4, index % 4 + 1)


def parse_quarter(text: str) -> Quarter | None:
    """``2026-Q3`` -> Quarter(2026, 3); anything else None."""
    year, sep, number = text.partition("-Q")
    if not (sep and year.isdigit() and len(year) == 4 and number in ("1", "2", "3", "4")):
        return None
    return Quarter(int(year), int(number))


def recent_quarters(today: date, count: int) -> list[Quarter]:
    """The quarter of ``today`` and the ``count - 1`` before it, newest first."""
    current = Quarter(today.year, (today.month - 1) // 3 + 1)
    return [current.back(n) for n in range(count)]


def measure_choices(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The active Measures of a searchset, by title: id, title and the resource."""
    found = [e["resource"] for e in bundle.get("entry") or []
             if (e.get("resource") or {}).get("resourceType") == "Measure"
             and e["resource"].get("status", "active") == "active" and e["resource"].get("id")]
    choices = [{"id": str(m["id"]), "title": str(m.get("title") or m.get("name") or m["id"]),
                "resource": m} for m in found]
    return sorted(choices, key=lambda c: c["title"].lower())


@dataclass(frozen=True)
class Figure:
    """One row of a table and one bar of a chart."""

    label: str
    counts: tuple[int | None, ...]
    score: float | None  # a percentage or days; None when no one was counted
    chosen: bool = False


@dataclass
class GroupView:
    """One group of a Measure: its figures per quarter and per practice, and their charts."""

    key: str
    title: str
    unit: str  # "%" or "days"
    populations: list[str]
    trend: list[Figure]
    practices: list[Figure]
    notes: list[str] = field(default_factory=list)
    trend_chart: Chart | None = None
    practice_chart: Chart | None = None

    def shown(self, score: float | None) -> str:
        if score is None:
            return "no one counted"
        return f"{score:.1f}%" if self.unit == "%" else f"{score:g} days"


def _codes(group: dict[str, Any]) -> list[str]:
    return [str(((p.get("code") or {}).get("coding") or [{}])[0].get("code", ""))
            for p in group.get("population") or []]


def _counts(body: dict[str, Any], codes: Sequence[str]) -> tuple[int | None, ...]:
    by_code = dict(zip(_codes(body), body.get("population") or [], strict=False))
    return tuple(by_code[c].get("count") if c in by_code else None for c in codes)


def _score(body: dict[str, Any], unit: str) -> float | None:
    value = (body.get("measureScore") or {}).get("value")
    if not isinstance(value, int | float):
        return None
    return round(float(value) * 100, 1) if unit == "%" else round(float(value), 1)


def _practice_label(stratum: dict[str, Any]) -> str:
    value = stratum.get("value") or {}
    code = next((c.get("code") for c in value.get("coding") or [] if c.get("system") == _ODS),
                None)
    return str(code or value.get("text") or "unknown")


def _is_practice(stratifier: dict[str, Any]) -> bool:
    """The GP practice stratifier: its strata are Organizations (or no practice)."""
    for stratum in stratifier.get("stratum") or []:
        value = stratum.get("value") or {}
        if str(value.get("text", "")).startswith("Organization/") or any(
                c.get("system") == _ODS for c in value.get("coding") or []):
            return True
    texts = [str(c.get("text", "")).lower() for c in stratifier.get("code") or []]
    return any("practice" in t for t in texts)


def _practices(body: dict[str, Any], codes: Sequence[str], unit: str) -> list[Figure]:
    rows = []
    for stratifier in body.get("stratifier") or []:
        if _is_practice(stratifier):
            rows = [Figure(_practice_label(s), _counts(s, codes), _score(s, unit))
                    for s in stratifier.get("stratum") or []]
            break
    return sorted(rows, key=lambda f: (f.label.startswith("no "), f.label))


def _title(measure: dict[str, Any], source: dict[str, Any], n: int) -> str:
    if source.get("description"):
        return str(source["description"])
    title = str(measure.get("title") or measure.get("name") or "Measure")
    return title if n == 0 else f"{title}, group {n + 1}"


def _notes(measure: dict[str, Any], unit: str) -> list[str]:
    notes = []
    if unit == "%":
        notes.append("Score: numerator as a percentage of the denominator.")
    improvement = ((measure.get("improvementNotation") or {}).get("coding") or [{}])[0]
    if improvement.get("code") in _BETTER:
        notes.append(_BETTER[str(improvement["code"])])
    return notes


def group_views(measure: dict[str, Any], quarters: Sequence[Quarter],
                reports: Sequence[dict[str, Any]], chosen: Quarter) -> list[GroupView]:
    """One view per group of the Measure: the score of each quarter (oldest first, from
    ``reports`` in the same order) and of each practice in the ``chosen`` quarter."""
    sources = measure.get("group") or []
    latest = reports[list(quarters).index(chosen)]
    views = []
    for n, body in enumerate(latest.get("group") or []):
        source = sources[n] if n < len(sources) else {}
        codes = _codes(body)
        unit = "days" if "measure-observation" in codes else "%"
        trend = []
        for quarter, report in zip(quarters, reports, strict=True):
            groups = report.get("group") or []
            same = groups[n] if n < len(groups) else {}
            trend.append(Figure(quarter.label, _counts(same, codes), _score(same, unit),
                                quarter == chosen))
        view = GroupView(f"group{n}", _title(measure, source, n), unit,
                         [_NAMES.get(c, c) for c in codes], trend,
                         _practices(body, codes, unit), _notes(measure, unit))
        view.trend_chart = bar_chart(view.trend, unit, vertical=True,
                                     title=f"{view.title}: score per quarter")
        view.practice_chart = bar_chart(view.practices, unit, vertical=False,
                                        title=f"{view.title}: score per GP practice, "
                                              f"{chosen.label}")
        views.append(view)
    return views
