"""Read a Measure's criteria (our x-fhir-query dialect, docs/measures.md) into group plans.

A population's ``criteria.expression`` is FHIR search queries joined by `` and `` (all
hold) and `` or `` (either holds; ``and`` binds tighter). A query on ``Patient`` tests the
subject; a query on another type says "the subject has such a resource" (linked by its
``patient`` parameter); ``Patient?`` alone is everyone of the population before. On top
of the search syntax:

    {{%periodStart}} {{%periodEnd}}   the evaluation period, substituted as literals
    date=lt{{%death}}                 compared with the subject's own date (death-date);
    date=ge{{%death - 90 days}}       ``%subject.<param>`` names any of its date params
    value-concept={{%first.value-concept}}  the same code as the variable ``first`` holds
    _count=ge3                        at least 3 such resources (not a page size)
    _sort=-date                       only the latest such resource counts
    _age=ge18                         (Patient) age in whole years at the group's age date

Variables are the Measure's ``variable`` extensions (an x-fhir-query each). A
``measure-observation`` population says ``daysBetween(%variable.param, %death)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from eolc_fhir.fhir.errors import FhirError, InvalidRequest
from eolc_fhir.fhir.instant import DAY_US
from eolc_fhir.search.parse import parse_clause
from eolc_fhir.search.registry import SearchRegistry
from eolc_fhir.storage.measure_plan import (
    AgeTest,
    Alternative,
    CorrelatedDate,
    DaysBetween,
    GroupPlan,
    Population,
    Related,
    SubjectDate,
    TokenJoin,
)
from eolc_fhir.storage.query import Clause, Query

__all__ = ["GroupSpec", "MeasureSpec", "read_measure", "VARIABLE_URL", "AGGREGATE_URL",
           "PROPORTION_CODES", "CONTINUOUS_CODES"]

VARIABLE_URL = "http://hl7.org/fhir/StructureDefinition/variable"
AGGREGATE_URL = "http://hl7.org/fhir/us/cqfmeasures/StructureDefinition/cqfm-aggregateMethod"
QUERY = "application/x-fhir-query"
FHIRPATH = "text/fhirpath"
PROPORTION_CODES = ("initial-population", "denominator", "numerator")
CONTINUOUS_CODES = ("initial-population", "measure-population", "measure-observation")
_AGGREGATES = ("median", "mean", "sum", "count", "min", "max")
_SUBJECT = re.compile(r"^%(death|subject\.([A-Za-z0-9_-]+))(?:\s*([-+])\s*(\d+)\s*days?)?$")
_JOIN = re.compile(r"^%([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+)$")
_DAYS_BETWEEN = re.compile(
    r"^daysBetween\(\s*%([A-Za-z][A-Za-z0-9_]*)\.([A-Za-z0-9_-]+)\s*,\s*(%[^)]+?)\s*\)$")
_BRACES = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_OR = re.compile(r"\s+or\s+")
_AND = re.compile(r"\s+and\s+")
_AGE_OPS = ("eq", "ne", "lt", "le", "gt", "ge")


@dataclass
class GroupSpec:
    """One group: its plan, and what the report needs to say about it."""

    plan: GroupPlan
    codes: tuple[str, ...]
    scoring: str  # proportion | continuous-variable
    source: dict[str, Any]  # the Measure's group, as written
    aggregate: str | None = None
    stratifiers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class MeasureSpec:
    url: str
    groups: list[GroupSpec]


@dataclass
class _Reader:
    registry: SearchRegistry
    period: tuple[str, str]
    period_end_us: int
    variables: dict[str, Related] = field(default_factory=dict)
    where: str = "Measure"  # FHIRPath of what is being read, for errors

    def fail(self, message: str) -> InvalidRequest:
        return InvalidRequest(f"{self.where}: {message}", code="invalid", expression=self.where)


def read_measure(measure: dict[str, Any], registry: SearchRegistry, period: tuple[str, str],
                 period_end_us: int) -> MeasureSpec:
    """Every group of ``measure`` as a plan for ``period`` (start, end as given);
    InvalidRequest naming the element (FHIRPath) that the dialect cannot read."""
    reader = _Reader(registry, period, period_end_us)
    for n, ext in enumerate(measure.get("extension") or []):
        if ext.get("url") == VARIABLE_URL:
            reader.where = f"Measure.extension[{n}]"
            _variable(reader, ext.get("valueExpression") or {})
    groups = measure.get("group") or []
    if not groups:
        raise InvalidRequest("the Measure has no group to evaluate", expression="Measure.group")
    specs = [_group(reader, group, g) for g, group in enumerate(groups)]
    return MeasureSpec(str(measure.get("url") or ""), specs)


def _variable(reader: _Reader, expression: dict[str, Any]) -> None:
    name = expression.get("name")
    if not isinstance(name, str) or expression.get("language") != QUERY:
        raise reader.fail(f"a variable needs a name and the language {QUERY}")
    alternatives = _criteria(reader, str(expression.get("expression") or ""))
    if len(alternatives) != 1 or alternatives[0].tests_subject or \
            len(alternatives[0].related) != 1:
        raise reader.fail("a variable is one query of a resource type other than Patient")
    reader.variables[name] = alternatives[0].related[0]


def _group(reader: _Reader, group: dict[str, Any], g: int) -> GroupSpec:
    populations, codes, observation = [], [], None
    for n, population in enumerate(group.get("population") or []):
        reader.where = f"Measure.group[{g}].population[{n}].criteria"
        code = _code(population.get("code"))
        criteria = population.get("criteria") or {}
        if code == "measure-observation":
            observation = _observation(reader, criteria)
        else:
            alternatives = _criteria(reader, _expression(reader, criteria, QUERY))
            populations.append(Population(code, tuple(alternatives)))
        codes.append(code)
    if tuple(codes) not in (PROPORTION_CODES, CONTINUOUS_CODES):
        reader.where = f"Measure.group[{g}].population"
        raise reader.fail("populations must be initial-population, denominator, numerator "
                          "(a proportion) or initial-population, measure-population, "
                          "measure-observation (a continuous variable)")
    age_at, stratifiers = _stratifiers(reader, group, g)
    plan = GroupPlan(tuple(populations), age_at=age_at, age_at_us=reader.period_end_us,
                     observation=observation)
    continuous = observation is not None
    return GroupSpec(plan, tuple(codes), "continuous-variable" if continuous else "proportion",
                     group, _aggregate(reader, group, g) if continuous else None, stratifiers)


def _code(concept: Any) -> str:
    for coding in (concept or {}).get("coding") or []:
        if coding.get("code"):
            return str(coding["code"])
    return ""


def _expression(reader: _Reader, criteria: dict[str, Any], language: str) -> str:
    if criteria.get("language") != language or not criteria.get("expression"):
        raise reader.fail(f"criteria must be an expression in {language}")
    return str(criteria["expression"])


def _aggregate(reader: _Reader, group: dict[str, Any], g: int) -> str:
    for ext in group.get("extension") or []:
        if ext.get("url") == AGGREGATE_URL and ext.get("valueCode") in _AGGREGATES:
            return str(ext["valueCode"])
    reader.where = f"Measure.group[{g}].extension"
    raise reader.fail(f"a continuous variable needs its {AGGREGATE_URL} "
                      f"({', '.join(_AGGREGATES)})")


def _stratifiers(reader: _Reader, group: dict[str, Any],
                 g: int) -> tuple[SubjectDate | None, list[tuple[str, dict[str, Any]]]]:
    """``Patient.generalPractitioner`` and ``ageBand(%death)`` / ``ageBand(%periodEnd)``;
    the age band's date is also the date of ``_age``."""
    age_at: SubjectDate | None = SubjectDate("death-date")
    out: list[tuple[str, dict[str, Any]]] = []
    for n, stratifier in enumerate(group.get("stratifier") or []):
        reader.where = f"Measure.group[{g}].stratifier[{n}].criteria"
        text = _expression(reader, stratifier.get("criteria") or {}, FHIRPATH).strip()
        if text == "Patient.generalPractitioner":
            out.append(("practice", stratifier))
        elif text in ("ageBand(%periodEnd)", "ageBand(%death)"):
            age_at = None if text == "ageBand(%periodEnd)" else SubjectDate("death-date")
            out.append(("age-band", stratifier))
        else:
            raise reader.fail("a stratifier is Patient.generalPractitioner, "
                              "ageBand(%death) or ageBand(%periodEnd)")
    return age_at, out


def _observation(reader: _Reader, criteria: dict[str, Any]) -> DaysBetween:
    text = _expression(reader, criteria, FHIRPATH).strip()
    match = _DAYS_BETWEEN.match(text)
    until = _subject_date(match.group(3)) if match else None
    if match is None or until is None or match.group(1) not in reader.variables:
        raise reader.fail("a measure-observation is daysBetween(%variable.param, %death) "
                          "with a variable of this Measure")
    source = reader.variables[match.group(1)]
    _check_kind(reader, source.query.resource_type, match.group(2), "date")
    return DaysBetween(source, match.group(2), until)


def _subject_date(text: str) -> SubjectDate | None:
    match = _SUBJECT.match(text.strip())
    if match is None:
        return None
    param = match.group(2) or "death-date"
    days = int(match.group(4) or 0) * (-1 if match.group(3) == "-" else 1)
    return SubjectDate(param, days * DAY_US)


def _check_kind(reader: _Reader, rtype: str, code: str, kind: str) -> None:
    param = reader.registry.get(rtype, code)
    if param is None or param.kind != kind:
        raise reader.fail(f"{rtype} has no {kind} search parameter {code!r}")


def _criteria(reader: _Reader, expression: str) -> list[Alternative]:
    return [_alternative(reader, alt) for alt in _OR.split(expression.strip())]


def _pairs(reader: _Reader, query: str) -> tuple[str, list[tuple[str, str]]]:
    rtype, _, rest = query.partition("?")
    if not rtype or not rtype.isalpha() or not rtype[0].isupper():
        raise reader.fail(f"{query!r} does not start with a resource type")
    pairs = []
    for item in rest.split("&"):
        if item:
            name, _, value = item.partition("=")
            pairs.append((unquote(name), _unquote_outside_braces(value)))
    return rtype, pairs


def _unquote_outside_braces(value: str) -> str:
    """Percent-decoding, except inside ``{{ }}`` (``%death`` is not an escape)."""
    out, at = [], 0
    for match in _BRACES.finditer(value):
        out += [unquote(value[at:match.start()]), match.group(0)]
        at = match.end()
    return "".join([*out, unquote(value[at:])])


def _alternative(reader: _Reader, text: str) -> Alternative:
    """Queries joined by ``and``: the Patient ones test the subject, each other one is a
    related test."""
    subject = _Built("Patient")
    related: list[Related] = []
    subject_text: list[str] = []
    for query in _AND.split(text.strip()):
        rtype, pairs = _pairs(reader, query)
        built = subject if rtype == "Patient" else _Built(rtype)
        for name, value in pairs:
            _one(reader, built, name, _literals(reader, value))
        if rtype == "Patient":
            subject_text.append(query)
            continue
        if built.ages:
            raise reader.fail("_age tests the subject: put it in a Patient query")
        related.append(Related(Query(rtype, tuple(built.clauses)), dates=tuple(built.dates),
                               joins=tuple(built.joins), at_least=built.at_least,
                               latest=built.latest, text=query))
    if subject.at_least != 1 or subject.latest or subject.joins:
        raise reader.fail("_count, _sort and variables are for related resources")
    return Alternative(Query("Patient", tuple(subject.clauses)), tuple(subject.dates),
                       tuple(subject.ages), tuple(related), " and ".join(subject_text))


@dataclass
class _Built:
    rtype: str
    clauses: list[Clause] = field(default_factory=list)
    dates: list[CorrelatedDate] = field(default_factory=list)
    joins: list[TokenJoin] = field(default_factory=list)
    ages: list[AgeTest] = field(default_factory=list)
    at_least: int = 1
    latest: str | None = None


def _literals(reader: _Reader, value: str) -> str:
    """``{{%periodStart}}`` and ``{{%periodEnd}}`` replaced; other ``{{ }}`` left."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "%periodStart":
            return reader.period[0]
        if name == "%periodEnd":
            return reader.period[1]
        return match.group(0)

    return _BRACES.sub(replace, value)


def _one(reader: _Reader, built: _Built, name: str, value: str) -> None:
    braces = _BRACES.search(value)
    if braces is not None:
        _correlated(reader, built, name, value[:braces.start()], braces.group(1))
    elif name == "_count":
        if not re.fullmatch(r"ge\d+", value) or built.rtype == "Patient":
            raise reader.fail(f"_count takes ge<N> in a related query, not {value!r}")
        built.at_least = int(value[2:])
    elif name == "_sort":
        _check_kind(reader, built.rtype, value.lstrip("-"), "date")
        if not value.startswith("-"):
            raise reader.fail("_sort takes -<date parameter>: the latest counts")
        built.latest = value[1:]
    elif name == "_age":
        match = re.fullmatch(r"(eq|ne|lt|le|gt|ge)?(\d+)", value)
        if match is None or built.rtype != "Patient":
            raise reader.fail("_age takes a prefix and whole years in a Patient query")
        built.ages.append(AgeTest(match.group(1) or "eq", int(match.group(2))))  # type: ignore[arg-type]
    else:
        try:
            built.clauses.append(parse_clause(reader.registry, built.rtype, name, value))
        except FhirError as exc:
            raise reader.fail(f"{name}={value}: {exc}") from None


def _correlated(reader: _Reader, built: _Built, name: str, prefix: str, inner: str) -> None:
    other = _subject_date(inner)
    if other is not None:
        _check_kind(reader, built.rtype, name, "date")
        if prefix not in ("lt", "le", "gt", "ge"):
            raise reader.fail(f"{name}: compare with {inner} using lt, le, gt or ge")
        built.dates.append(CorrelatedDate(name, prefix, other))  # type: ignore[arg-type]
        return
    match = _JOIN.match(inner)
    if match is None or match.group(1) not in reader.variables or prefix:
        raise reader.fail(f"{name}: {{{{{inner}}}}} is not %periodStart, %periodEnd, %death, "
                          "%subject.<param> or %<variable>.<param>")
    variable = reader.variables[match.group(1)]
    _check_kind(reader, built.rtype, name, "token")
    _check_kind(reader, variable.query.resource_type, match.group(2), "token")
    built.joins.append(TokenJoin(name, variable, match.group(2)))
