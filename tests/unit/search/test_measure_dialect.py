"""The measure criteria dialect (search/measures.py): what it reads, and what it refuses."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from eolc_fhir.fhir.errors import InvalidRequest
from eolc_fhir.search import SearchRegistry
from eolc_fhir.search.measures import read_measure
from eolc_fhir.storage.measure_plan import CorrelatedDate, SubjectDate

PROFILES = Path(__file__).parents[3] / "profiles"
PERIOD = ("2026-07-01T00:00:00.000000Z", "2026-09-30T23:59:59.999999Z")
REGISTRY = SearchRegistry.load(PROFILES)


def _measure(name: str) -> dict[str, Any]:
    return dict(orjson.loads((PROFILES / f"Measure-{name}.json").read_bytes()))


def _read(measure: dict[str, Any]) -> Any:
    return read_measure(measure, REGISTRY, PERIOD, 0)


@pytest.mark.parametrize("path", sorted(PROFILES.glob("Measure-*.json")), ids=lambda p: p.stem)
def test_every_published_measure_reads(path: Path) -> None:
    spec = _read(orjson.loads(path.read_bytes()))
    assert spec.url.endswith(path.stem.removeprefix("Measure-"))
    assert all(g.stratifiers for g in spec.groups)


def test_death_is_a_correlation_and_the_period_a_literal() -> None:
    spec = _read(_measure("emergency-admissions-last-90-days"))
    numerator = spec.groups[0].plan.populations[2].alternatives[0].related[0]
    assert numerator.at_least == 3
    assert numerator.dates == (
        CorrelatedDate("date-start", "ge", SubjectDate("death-date", -90 * 86_400_000_000)),
        CorrelatedDate("date-start", "le", SubjectDate("death-date")))
    initial = spec.groups[0].plan.populations[0].alternatives[0]
    assert [c.param for c in initial.subject.clauses] == ["death-date", "death-date"]
    assert initial.ages[0].years == 18


def _with_numerator(expression: str, name: str = "acp-before-death") -> dict[str, Any]:
    measure = copy.deepcopy(_measure(name))
    measure["group"][0]["population"][2]["criteria"]["expression"] = expression
    return measure


@pytest.mark.parametrize("expression", [
    "CarePlan?created=lt{{%tomorrow}}",  # no such value
    "CarePlan?created=eq{{%death}}",  # only lt le gt ge
    "CarePlan?status={{%death}}",  # not a date parameter
    "CarePlan?colour=blue",  # no such search parameter
    "Patient?_count=ge3",  # thresholds are for related resources
    "CarePlan?_age=ge18",  # age is the subject's
    "CarePlan?_sort=created",  # only the latest: -param
    "careplan?status=active",  # not a type
    "Observation?value-concept={{%nobody.value-concept}}",  # no such variable
])
def test_what_the_dialect_refuses_names_the_element(expression: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        _read(_with_numerator(expression))
    assert caught.value.issues[0].expression == ("Measure.group[0].population[2].criteria",)


def test_populations_must_be_a_proportion_or_a_continuous_variable() -> None:
    measure = _measure("acp-before-death")
    del measure["group"][0]["population"][1]
    with pytest.raises(InvalidRequest, match="populations must be"):
        _read(measure)
    continuous = _measure("identified-before-death")
    del continuous["group"][1]["extension"]
    with pytest.raises(InvalidRequest, match="aggregateMethod"):
        _read(continuous)

