"""Hand-written R4 Measures and MeasureReports for the report's tests (the standard shape)."""

from __future__ import annotations

from typing import Any

from eolc_fhir.report.period import Quarter

Json = dict[str, Any]
BASE = "https://eolc.example.org/fhir/Measure/"
POP = "http://terminology.hl7.org/CodeSystem/measure-population"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PRACTICES = {"Y01001": "Riverside Surgery", "Y01002": "Hill <Top> & Vale"}


def _population(code: str, count: int) -> Json:
    return {"code": {"coding": [{"system": POP, "code": code}]}, "count": count}


def proportion_measure(name: str, title: str) -> Json:
    return {"resourceType": "Measure", "id": name, "url": BASE + name, "name": name,
            "title": title, "status": "active", "description": f"{title}: of all deaths.",
            "improvementNotation": {"coding": [{"code": "decrease"}]},
            "scoring": {"coding": [{"code": "proportion"}]},
            "group": [{"population": [
                {"code": {"coding": [{"system": POP, "code": "denominator"}]},
                 "description": "people who died in the period"},
                {"code": {"coding": [{"system": POP, "code": "numerator"}]},
                 "description": "of whom died in hospital"}]}]}


def two_group_measure(name: str, title: str) -> Json:
    measure = proportion_measure(name, title)
    measure["group"].append({"description": "median days on the register", "population": [
        {"code": {"coding": [{"system": POP, "code": "measure-population"}]},
         "description": "deaths on the register"}]})
    return measure


def proportion_group(numerator: int, denominator: int,
                     practices: dict[str, tuple[int, int]] | None = None,
                     ages: dict[str, tuple[int, int]] | None = None) -> Json:
    """Numerator and denominator, and each stratum's; scores as R4 fractions."""
    group = _proportion_part(numerator, denominator)
    group["stratifier"] = []
    if practices:
        group["stratifier"].append({"code": [{"text": "gp-practice"}], "stratum": [
            {"value": {"coding": [{"system": ODS, "code": code}], "text": PRACTICES[code]},
             **_proportion_part(*counts)} for code, counts in practices.items()]})
    if ages:
        group["stratifier"].append({"code": [{"text": "age-band"}], "stratum": [
            {"value": {"text": band}, **_proportion_part(*counts)}
            for band, counts in ages.items()]})
    return group


def _proportion_part(numerator: int, denominator: int) -> Json:
    part: Json = {"population": [_population("initial-population", denominator),
                                 _population("denominator", denominator),
                                 _population("numerator", numerator)]}
    if denominator:
        part["measureScore"] = {"value": numerator / denominator}
    return part


def median_group(count: int, days: float) -> Json:
    return {"population": [_population("measure-population", count)],
            "measureScore": {"value": days, "unit": "d", "system": "http://unitsofmeasure.org",
                             "code": "d"}}


def measure_report(measure: Json, quarter: Quarter, groups: list[Json]) -> Json:
    return {"resourceType": "MeasureReport", "status": "complete", "type": "summary",
            "measure": measure["url"], "date": "2026-10-02T00:00:00Z",
            "period": {"start": quarter.start.isoformat(), "end": quarter.end.isoformat()},
            "group": groups}
