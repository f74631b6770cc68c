"""What a report shows, read from Measure resources and the R4 MeasureReports of four quarters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eolc_fhir.report.period import Quarter

__all__ = ["MeasureInput", "MeasureView", "GroupView", "Row", "measure_view", "measure_key",
           "POPULATION_ORDER", "TOTAL"]

# The R4 measure-population codes, in the order a reader expects them.
POPULATION_ORDER = ("initial-population", "denominator", "denominator-exclusion",
                    "denominator-exception", "numerator", "numerator-exclusion",
                    "measure-population", "measure-population-exclusion",
                    "measure-observation")
TOTAL = "total"
_UNIT_NAMES = {"d": "days", "day": "days", "wk": "weeks", "mo": "months", "a": "years"}
Json = dict[str, Any]


@dataclass(frozen=True)
class MeasureInput:
    """A Measure resource and its MeasureReport for each quarter asked for."""

    measure: Json
    reports: Mapping[Quarter, Json]


@dataclass(frozen=True)
class GroupView:
    index: int
    label: str  # for people: the group's description, else the measure's title
    key: str  # for tables: the group's id when it has one, else the label
    proportion: bool  # numerator over denominator, shown in per cent
    unit: str  # "%" for proportions, else the measureScore's unit (e.g. "days")


@dataclass(frozen=True)
class Row:
    """One line of a measure's table: a quarter, a group, and the whole or one stratum."""

    quarter: Quarter
    group: int
    breakdown: str  # TOTAL, or the stratifier's name (e.g. "GP practice", "age band")
    stratum: str  # "all" for the total, else the stratum's name
    key: str  # the stratum's code, stable across quarters
    counts: Mapping[str, int]
    score: float | None  # per cent for proportions, else in the group's unit


@dataclass(frozen=True)
class MeasureView:
    name: str
    url: str
    title: str
    description: str
    improvement: str | None  # "increase" or "decrease" when the Measure says which is better
    groups: list[GroupView]
    quarters: list[Quarter]  # oldest first; the last is the report's period
    rows: list[Row] = field(default_factory=list)
    # (group index, population code, its description) from the Measure: the definition
    definitions: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def populations(self) -> list[str]:
        return self.populations_of(None)

    def populations_of(self, group: int | None) -> list[str]:
        """The population codes reported (for one group, or for any), in the usual order."""
        present = {code for row in self.rows if group is None or row.group == group
                   for code in row.counts}
        return [code for code in POPULATION_ORDER if code in present] + sorted(
            present.difference(POPULATION_ORDER))

    def select(self, quarter: Quarter, group: int, breakdown: str) -> list[Row]:
        return [r for r in self.rows
                if r.quarter == quarter and r.group == group and r.breakdown == breakdown]

    def total(self, quarter: Quarter, group: int) -> Row | None:
        found = self.select(quarter, group, TOTAL)
        return found[0] if found else None

    def breakdowns(self, group: int) -> list[str]:
        names = dict.fromkeys(r.breakdown for r in self.rows if r.group == group)
        return [name for name in names if name != TOTAL]

    def practice_breakdown(self, group: int) -> str | None:
        return next((b for b in self.breakdowns(group) if "practice" in b.lower()), None)


def measure_key(measure: Json) -> str:
    """The file name of a measure: the last part of its canonical URL, else its id."""
    url = str(measure.get("url") or "")
    return url.rstrip("/").rsplit("/", 1)[-1] or str(measure.get("id") or "measure")


def measure_view(source: MeasureInput) -> MeasureView:
    measure = source.measure
    quarters = sorted(source.reports)
    groups = _group_views(measure, [source.reports[q] for q in quarters])
    view = MeasureView(
        name=measure_key(measure), url=str(measure.get("url", "")),
        title=str(measure.get("title") or measure.get("name") or measure_key(measure)),
        description=str(measure.get("description") or ""),
        improvement=_code(measure.get("improvementNotation")), groups=groups,
        quarters=quarters, definitions=_definitions(measure))
    for quarter in quarters:
        for index, group in enumerate(source.reports[quarter].get("group", [])):
            if index < len(groups):
                view.rows.extend(_group_rows(quarter, index, group, groups[index]))
    return view


def _group_views(measure: Json, reports: list[Json]) -> list[GroupView]:
    defined = measure.get("group", [])
    count = max([len(defined)] + [len(r.get("group", [])) for r in reports])
    views = []
    for index in range(count):
        definition = defined[index] if index < len(defined) else {}
        reported = [r["group"][index] for r in reports if index < len(r.get("group", []))]
        codes = {_code(p.get("code")) for g in [definition, *reported]
                 for p in g.get("population", [])}
        proportion = {"numerator", "denominator"} <= codes
        label = (definition.get("description") or _text(definition.get("code"))
                 or _first_group_label(measure, index, count) or definition.get("id")
                 or f"group {index + 1}")
        views.append(GroupView(index, str(label), str(definition.get("id") or label),
                               proportion, "%" if proportion else _unit(reported)))
    return views


def _first_group_label(measure: Json, index: int, count: int) -> str | None:
    """The first (or only) group is what the measure's title says."""
    if index == 0 and measure.get("title"):
        return str(measure["title"])
    return "all" if count == 1 else None


def _definitions(measure: Json) -> list[tuple[int, str, str]]:
    found = []
    for index, group in enumerate(measure.get("group", [])):
        for population in group.get("population", []):
            code = _code(population.get("code"))
            text = population.get("description") or (population.get("criteria") or {}).get(
                "expression")
            if code and text:
                found.append((index, code, str(text)))
    return found


def _unit(groups: list[Json]) -> str:
    for group in groups:
        score = group.get("measureScore") or {}
        unit = score.get("unit") or score.get("code")
        if unit:
            return _UNIT_NAMES.get(str(unit), str(unit))
    return ""


def _group_rows(quarter: Quarter, index: int, group: Json, view: GroupView) -> list[Row]:
    rows = [Row(quarter, index, TOTAL, "all", "all", _counts(group),
                _score(group.get("measureScore"), view))]
    for number, stratifier in enumerate(group.get("stratifier", [])):
        name = _stratifier_name(stratifier, number)
        for stratum in stratifier.get("stratum", []):
            label, key = _stratum_label(stratum.get("value"))
            rows.append(Row(quarter, index, name, label, key, _counts(stratum),
                            _score(stratum.get("measureScore"), view)))
    return rows


def _counts(part: Json) -> dict[str, int]:
    counts = {}
    for population in part.get("population", []):
        code = _code(population.get("code"))
        if code and isinstance(population.get("count"), int):
            counts[code] = population["count"]
    return counts


def _score(score: Json | None, view: GroupView) -> float | None:
    if not score or not isinstance(score.get("value"), int | float):
        return None
    value = float(score["value"])
    # An R4 proportion's score is a fraction; a few servers send per cent, saying so in the unit.
    if view.proportion and "%" not in (score.get("unit"), score.get("code")):
        value *= 100
    return value


def _stratifier_name(stratifier: Json, number: int) -> str:
    codes = stratifier.get("code") or [{}]
    name = _text(codes[0]) or f"stratifier {number + 1}"
    if name.islower():  # a code such as gp-practice: say it as words
        name = " ".join("GP" if word == "gp" else word for word in name.replace("-", " ").split())
    return name


def _stratum_label(value: Json | None) -> tuple[str, str]:
    """(what a reader sees, the key that finds the same stratum in another quarter)."""
    value = value or {}
    coding = (value.get("coding") or [{}])[0]
    code = coding.get("code")
    # A coding's display names it for people (e.g. a practice); text may be a reference.
    name = coding.get("display") or value.get("text")
    if code:  # e.g. a practice's name and its ODS code
        label = f"{name} ({code})" if name and name != code else str(code)
        return label, f"{coding.get('system', '')}|{code}"
    return (str(name), str(name)) if name else ("(none)", "(none)")


def _code(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    coding = concept.get("coding") or []
    if coding and coding[0].get("code"):
        return str(coding[0]["code"])
    return str(concept["text"]) if concept.get("text") else None


def _text(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    coding = (concept.get("coding") or [{}])[0]
    found = concept.get("text") or coding.get("display") or coding.get("code")
    return str(found) if found else None
