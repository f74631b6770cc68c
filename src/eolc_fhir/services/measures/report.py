"""Build the R4 MeasureReport of an evaluation from the counts the database returned."""

from __future__ import annotations

import html
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eolc_fhir.search.measures import GroupSpec
from eolc_fhir.storage.measure_plan import Stratum

__all__ = ["GroupResult", "group_report", "subject_lists", "narrative", "REASON_URL",
           "POPULATION_SYSTEM"]

POPULATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/measure-population"
REASON_URL = "https://eolc.example.org/fhir/StructureDefinition/eolc-population-reason"
_ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
_NO_PRACTICE = "no GP practice recorded"
_NO_BAND = "birth date not recorded"
Observed = tuple[str | None, str | None, int]


@dataclass
class GroupResult:
    """What the database said about one group."""

    spec: GroupSpec
    strata: list[Stratum]
    observations: Sequence[Observed] = ()
    lists: dict[str, list[str]] | None = None  # subject-list: population code -> patient ids
    individual: tuple[tuple[int, ...], list[str]] | None = None  # flags, reasons


@dataclass
class _Counts:
    counts: list[int]
    values: list[int] = field(default_factory=list)


def _total(strata: Iterable[Stratum], width: int) -> list[int]:
    total = [0] * width
    for stratum in strata:
        for n, value in enumerate(stratum.counts):
            total[n] += value
    return total


def _score(spec: GroupSpec, counts: list[int], values: list[int]) -> dict[str, Any] | None:
    if spec.scoring == "proportion":
        return {"value": round(counts[2] / counts[1], 6)} if counts[1] else None
    if not values:
        return None
    aggregates: dict[str, Callable[[list[int]], float]] = {
        "median": statistics.median, "mean": statistics.fmean, "sum": sum, "count": len,
        "min": min, "max": max}
    value = aggregates[spec.aggregate or "median"](values)
    return {"value": round(float(value), 6), "unit": "days",
            "system": "http://unitsofmeasure.org", "code": "d"}


def _populations(spec: GroupSpec, counts: _Counts, g: int,
                 lists: dict[str, list[str]] | None) -> list[dict[str, Any]]:
    out = []
    for n, code in enumerate(spec.codes):
        count = len(counts.values) if code == "measure-observation" else counts.counts[n]
        entry: dict[str, Any] = {
            "code": {"coding": [{"system": POPULATION_SYSTEM, "code": code}]}, "count": count}
        if lists is not None and code in lists:
            entry["subjectResults"] = {"reference": f"#{_list_id(g, code)}"}
        out.append(entry)
    return out


def _list_id(g: int, code: str) -> str:
    return f"group{g}-{code}"


def _body(spec: GroupSpec, counts: _Counts, g: int,
          lists: dict[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"population": _populations(spec, counts, g, lists)}
    score = _score(spec, counts.counts, counts.values)
    if score is not None:
        body["measureScore"] = score
    return body


def _strata(result: GroupResult, key: Callable[[Any], str | None],
            value: Callable[[str | None], dict[str, Any]], g: int) -> list[dict[str, Any]]:
    width = len(result.spec.plan.populations)
    keys = sorted({key(s) for s in result.strata}, key=lambda k: (k is None, k or ""))
    out = []
    for k in keys:
        counts = _Counts(_total((s for s in result.strata if key(s) == k), width),
                         [o[2] for o in result.observations if key(o) == k])
        body = _body(result.spec, counts, g)
        out.append({"value": value(k), **body})
    return out


def _practice_value(ods: dict[str, str]) -> Callable[[str | None], dict[str, Any]]:
    def value(practice: str | None) -> dict[str, Any]:
        if practice is None:
            return {"text": _NO_PRACTICE}
        concept: dict[str, Any] = {"text": f"Organization/{practice}"}
        if practice in ods:
            concept["coding"] = [{"system": _ODS, "code": ods[practice]}]
        return concept

    return value


def _band_value(band: str | None) -> dict[str, Any]:
    return {"text": band if band is not None else _NO_BAND}


def _practice_of(row: Stratum | Observed) -> str | None:
    return row.practice_id if isinstance(row, Stratum) else row[0]


def _band_of(row: Stratum | Observed) -> str | None:
    return row.band if isinstance(row, Stratum) else row[1]


def group_report(result: GroupResult, g: int, ods: dict[str, str]) -> dict[str, Any]:
    """One MeasureReport.group: population counts, score and stratifiers (none for an
    individual), with the subjects' Lists referenced when they were asked for."""
    spec = result.spec
    source = spec.source
    group: dict[str, Any] = {}
    if source.get("id"):
        group["id"] = str(source["id"])
    if source.get("code"):
        group["code"] = source["code"]
    if result.individual is not None:
        flags, reasons = result.individual
        counts = _Counts(list(flags), [o[2] for o in result.observations])
        group.update(_body(spec, counts, g))
        for population, reason in zip(group["population"], reasons, strict=False):
            population["extension"] = [{"url": REASON_URL, "valueString": reason}]
        return group
    width = len(spec.plan.populations)
    counts = _Counts(_total(result.strata, width), [o[2] for o in result.observations])
    group.update(_body(spec, counts, g, result.lists))
    stratifiers = []
    for kind, declared in spec.stratifiers:
        if kind == "practice":
            rows = _strata(result, _practice_of, _practice_value(ods), g)
        else:
            rows = _strata(result, _band_of, _band_value, g)
        stratifiers.append({"code": [declared.get("code") or {"text": kind}], "stratum": rows})
    if stratifiers:
        group["stratifier"] = stratifiers
    return group


def subject_lists(result: GroupResult, g: int) -> list[dict[str, Any]]:
    """The contained List of each population's subjects."""
    out = []
    for code, ids in (result.lists or {}).items():
        entry = [{"item": {"reference": f"Patient/{pid}"}} for pid in ids]
        listed: dict[str, Any] = {"resourceType": "List", "id": _list_id(g, code),
                                  "status": "current", "mode": "snapshot",
                                  "title": f"{code} of group {g}"}
        if entry:
            listed["entry"] = entry
        else:
            listed["emptyReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                "code": "nilknown"}]}
        out.append(listed)
    return out


def narrative(title: str, lines: Sequence[str]) -> dict[str, Any]:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    div = (f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{html.escape(title)}</p>'
           f"<ul>{items}</ul></div>")
    return {"status": "generated", "div": div}
