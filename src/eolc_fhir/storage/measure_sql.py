"""Compile a measure group's plan (``measure_plan``) to set-based SQL and run it.

Three levels of SELECT, each over the one inside it:

    subjects  the Patients in scope that may be in the first population (a prefilter the
              planner drives from its most selective index), with the subject's own dates
              (death), birth date and practice as columns;
    parts     per test of every population, 1 or 0 (EXISTS probes on the index tables,
              correlated with the subject's columns);
    flags     per population, 1 or 0: its alternatives' parts combined, each population
              within the one before it.

A summary groups the flags by (practice, age band) and sums them; a subject list or an
individual report reads them per subject. Nothing is looped over in Python.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.fhir.instant import DAY_US
from eolc_fhir.storage import tables as t
from eolc_fhir.storage.measure_plan import (
    AGE_BANDS,
    Alternative,
    CorrelatedDate,
    GroupPlan,
    Related,
    Scope,
    Stratum,
    SubjectDate,
    TokenJoin,
)
from eolc_fhir.storage.query import Has, LastUpdatedTest, Query
from eolc_fhir.storage.search_conditions import driver_index
from eolc_fhir.storage.search_sql import (
    has_condition,
    id_set,
    probe_conditions,
    probe_id_conditions,
    query_conditions,
)

__all__ = ["MeasureSql", "run_summary", "run_members", "run_observations"]

_PRACTICE_PARAM = "general-practitioner"
_BIRTH_PARAM = "birthdate"
Extra = Callable[[Any], ColumnElement[bool]]


def _date_params(plan: GroupPlan) -> list[str]:
    """Every subject date the plan compares with (its columns in ``subjects``)."""
    found: list[str] = [plan.age_at.param] if plan.age_at else []

    def related(rel: Related) -> None:
        found.extend(d.other.param for d in rel.dates)
        for join in rel.joins:
            related(join.other)

    for population in plan.populations:
        for alt in population.alternatives:
            found.extend(d.other.param for d in alt.dates)
            for rel in alt.related:
                related(rel)
    if plan.observation is not None:
        found.append(plan.observation.until.param)
        related(plan.observation.source)
    return list(dict.fromkeys(found))


class MeasureSql:
    """One group's statements, for one dialect and scope."""

    def __init__(self, dialect: str, plan: GroupPlan, scope: Scope) -> None:
        self.dialect, self.plan, self.scope = dialect, plan, scope
        self._labels = {p: f"d{n}" for n, p in enumerate(_date_params(plan))}
        self._sets: dict[Related, Any] = {}  # uncorrelated related tests: one set each
        # One practice or one person: few subjects, so probes per subject beat whole sets.
        self._whole_region = scope.practice_id is None and scope.patient_id is None
        # Materialised: each subject's columns and each test are computed once, not again
        # wherever a level above names them (SQLite and PostgreSQL both honour the hint).
        base = self._subjects().cte("base").prefix_with("MATERIALIZED")
        self.subjects = select(base, self._age(base).label("age")).cte(
            "subjects").prefix_with("MATERIALIZED")
        self.parts, self.part_labels = self._parts()
        self.flags = self._flags().subquery("flags")

    # -- level 1: the subjects and their own columns ------------------------------------
    def _subject_value(self, param: str, agg: Any, column: str, p: Any) -> Any:
        i = t.idx_date.alias()
        return select(agg(i.c[column])).where(
            i.c.res_type == "Patient", i.c.res_id == p.c.res_id, i.c.param == param
        ).correlate_except(i).scalar_subquery()

    def _subjects(self) -> Select[Any]:
        p = t.resources.alias("p")
        ref = t.idx_reference.alias()
        practice = select(func.min(ref.c.target_id)).where(
            ref.c.res_type == "Patient", ref.c.res_id == p.c.res_id,
            ref.c.param == _PRACTICE_PARAM, ref.c.target_type == "Organization",
        ).correlate_except(ref).scalar_subquery()
        columns = [p.c.res_id, practice.label("practice"),
                   self._subject_value(_BIRTH_PARAM, func.min, "low_us", p).label("birth")]
        for param, label in self._labels.items():
            columns.append(self._subject_value(param, func.min, "low_us", p).label(label + "l"))
            columns.append(self._subject_value(param, func.max, "high_us", p).label(label + "h"))
        return select(*columns).where(*self._scope_conditions(p))

    def _scope_conditions(self, p: Any) -> list[ColumnElement[bool]]:
        if self.scope.patient_id is not None:  # an individual report: every flag of one person
            return [p.c.res_type == "Patient", p.c.deleted.is_(False),
                    p.c.res_id == self.scope.patient_id]
        alternatives = self.plan.populations[0].alternatives
        conds = [or_(*dict.fromkeys(self._prefilter(alt, p) for alt in alternatives))]
        if self.scope.practice_id is not None:
            ref = t.idx_reference.alias()
            conds.append(p.c.res_id.in_(select(ref.c.res_id).where(
                ref.c.param == _PRACTICE_PARAM, ref.c.target_id == self.scope.practice_id,
                ref.c.target_type == "Organization", ref.c.res_type == "Patient")))
        return [p.c.res_type == "Patient", p.c.deleted.is_(False), *conds]

    # -- level 2: one 0/1 column per test --------------------------------------------------
    def _parts(self) -> tuple[Select[Any], list[list[list[str]]]]:
        s = self.subjects
        columns: list[Any] = [s.c.res_id, s.c.practice, self._band().label("band")]
        labels: list[list[list[str]]] = []
        for k, population in enumerate(self.plan.populations):
            alternatives = [self._alternative_parts(alt) for alt in population.alternatives]
            if self.scope.patient_id is None:  # one column: the database stops at a miss
                met = or_(*(and_(*parts) for parts in alternatives))
                labels.append([[f"c{k}"]])
                columns.append(case((met, 1), else_=0).label(f"c{k}"))
                continue
            labels.append([])  # an individual report: every test, to say why
            for a, parts in enumerate(alternatives):
                labels[-1].append([f"p{k}_{a}_{n}" for n in range(len(parts))])
                columns += [case((cond, 1), else_=0).label(f"p{k}_{a}_{n}")
                            for n, cond in enumerate(parts)]
        if self.plan.observation is not None:  # computed here once, beside the tests
            columns.append(self._observed().label("observed"))
        return select(*columns), labels

    def _alternative_parts(self, alt: Alternative) -> list[ColumnElement[bool]]:
        s = self.subjects
        parts: list[ColumnElement[bool]] = []
        if alt.tests_subject:
            own: list[ColumnElement[bool]] = [
                self._date_test(d, "Patient", s.c.res_id) for d in alt.dates]
            own += [self._age_test(x.op, x.years) for x in alt.ages]
            if alt.subject.clauses:
                try:
                    own += probe_id_conditions(self.dialect, alt.subject, s.c.res_id)
                except ValueError:  # _lastUpdated: a column of the resources row
                    p = t.resources.alias()
                    own.append(_exists([p], p.c.res_type == "Patient", p.c.res_id == s.c.res_id,
                                       *probe_conditions(self.dialect, alt.subject, p)))
            parts.append(and_(*own))
        parts += [self._related(rel) for rel in alt.related]
        return parts or [true()]

    def _prefilter(self, alt: Alternative, p: Any) -> ColumnElement[bool]:
        """A cheap superset of the alternative's subjects (every test is checked again
        above): its own clauses when one can drive from an index, else its first related
        test's set (or, when that test is correlated, ``_has`` with its best clause)."""
        if driver_index(alt.subject.clauses) is not None or not alt.related:
            return and_(*query_conditions(self.dialect, alt.subject, p))
        if not self._whole_region:  # the practice's patients drive
            return true()
        rel = alt.related[0]
        if _uncorrelated(rel):
            return p.c.res_id.in_(self._set(rel))  # type: ignore[no-any-return]
        best = driver_index(rel.query.clauses)
        clauses = rel.query.clauses if best is None else (rel.query.clauses[best],)
        has = Has(rel.link, Query(rel.query.resource_type, clauses))
        return has_condition(self.dialect, has, "Patient", p.c.res_id)

    def _set(self, rel: Related) -> Select[Any]:
        """The subjects having a resource that meets ``rel`` (uncorrelated): computed once
        per statement (a materialised CTE), driven by the query's most selective index."""
        if rel not in self._sets:
            ref = t.idx_reference.alias()
            rtype = rel.query.resource_type
            ids = id_set(self.dialect, rel.query)
            tests: list[ColumnElement[bool]]
            if ids is not None:  # set operations over the index ranges
                tests = [ref.c.res_id.in_(ids)]
            else:
                tests = probe_id_conditions(self.dialect, rel.query, ref.c.res_id, drive=True)
            stmt = select(ref.c.target_id.label("id")).where(
                ref.c.res_type == rtype, ref.c.param == rel.link,
                ref.c.target_type == "Patient", *tests)
            name = f"set{len(self._sets)}"
            self._sets[rel] = stmt.cte(name).prefix_with("MATERIALIZED")
        return select(self._sets[rel].c.id)

    def _related(self, rel: Related, extra: Extra | None = None) -> ColumnElement[bool]:
        if extra is None and self._whole_region and _uncorrelated(rel):  # one set, made once
            return self.subjects.c.res_id.in_(self._set(rel))
        conds, own, rid = self._related_conditions(rel, extra)
        if rel.at_least > 1:
            counted = select(func.count(distinct(rid))).where(*conds).correlate_except(
                *own).scalar_subquery()
            return counted >= rel.at_least
        return _exists(own, *conds)

    def _related_conditions(self, rel: Related, extra: Extra | None
                            ) -> tuple[list[ColumnElement[bool]], list[Any], Any]:
        """The conditions on one related resource (its id: the index row's ``res_id``;
        index rows exist only for live resources), the tables they own, and that id."""
        rtype = rel.query.resource_type
        ref = t.idx_reference.alias()
        rid = ref.c.res_id
        conds: list[ColumnElement[bool]] = [
            ref.c.param == rel.link, ref.c.target_id == self.subjects.c.res_id,
            ref.c.target_type == "Patient", ref.c.res_type == rtype]
        own = [ref]
        try:
            conds += probe_id_conditions(self.dialect, rel.query, rid)
        except ValueError:  # _lastUpdated: a column of the resources row
            r = t.resources.alias()
            own.append(r)
            conds += [r.c.res_type == rtype, r.c.res_id == rid,
                      *probe_conditions(self.dialect, rel.query, r)]
        conds += [self._date_test(d, rtype, rid) for d in rel.dates]
        conds += [self._join(j, rtype, rid) for j in rel.joins]
        if rel.latest is not None:  # no matching resource of this subject is later
            param, earlier = rel.latest, rid

            def later(other: Any) -> ColumnElement[bool]:
                return self._first(rtype, other, param) > self._first(  # type: ignore[no-any-return]
                    rtype, earlier, param)

            conds.append(~self._related(dataclasses.replace(rel, latest=None, at_least=1),
                                        later))
        if extra is not None:
            conds.append(extra(rid))
        return conds, own, rid

    def _first(self, rtype: str, rid: Any, param: str) -> Any:
        i = t.idx_date.alias()
        return select(func.min(i.c.low_us)).where(
            i.c.res_type == rtype, i.c.res_id == rid, i.c.param == param
        ).correlate_except(i).scalar_subquery()

    def _join(self, join: TokenJoin, rtype: str, rid: Any) -> ColumnElement[bool]:
        mine, theirs = t.idx_token.alias(), t.idx_token.alias()
        other_type = join.other.query.resource_type

        def same_code(other: Any) -> ColumnElement[bool]:
            return _exists([theirs], theirs.c.res_type == other_type,
                           theirs.c.res_id == other, theirs.c.param == join.other_param,
                           theirs.c.system == mine.c.system, theirs.c.code == mine.c.code)

        return _exists([mine], mine.c.res_type == rtype, mine.c.res_id == rid,
                       mine.c.param == join.param, self._related(join.other, same_code))

    def _subject_date(self, other: SubjectDate, end: str) -> Any:
        return self._date_column(self.subjects, other, end)

    def _date_column(self, source: Any, other: SubjectDate, end: str) -> Any:
        column = source.c[self._labels[other.param] + end]
        return column + other.offset_us if other.offset_us else column

    def _date_test(self, d: CorrelatedDate, rtype: str, rid: Any) -> ColumnElement[bool]:
        i = t.idx_date.alias()
        low, high = self._subject_date(d.other, "l"), self._subject_date(d.other, "h")
        test = {"lt": i.c.low_us < low, "le": i.c.low_us <= high,
                "gt": i.c.high_us > high, "ge": i.c.high_us >= low}[d.op]
        return _exists([i], i.c.res_type == rtype, i.c.res_id == rid, i.c.param == d.param, test)

    # -- ages ------------------------------------------------------------------------------
    def _ymd(self, us: Any) -> Any:
        """A microsecond instant as the integer YYYYMMDD of its UTC day."""
        if self.dialect == "postgresql":
            moment = func.timezone("UTC", func.to_timestamp(us / 1_000_000.0))
            return cast(func.to_char(moment, "YYYYMMDD"), Integer)
        return cast(func.strftime("%Y%m%d", us // 1_000_000, "unixepoch"), Integer)

    def _age(self, base: Any) -> Any:
        """Whole years from birth to the reference date: (YYYYMMDD - YYYYMMDD) div 10000."""
        if self.plan.age_at is not None:
            at = self._ymd(self._date_column(base, self.plan.age_at, "l"))
        else:
            at = literal(_ymd_of(self.plan.age_at_us))
        return case((base.c.birth.is_(None), None),
                    else_=(at - self._ymd(base.c.birth)) // 10000)

    def _age_test(self, op: str, years: int) -> ColumnElement[bool]:
        age = self.subjects.c.age
        tests = {"eq": age == years, "ne": age != years, "lt": age < years,
                 "le": age <= years, "gt": age > years, "ge": age >= years}
        return and_(age.is_not(None), tests[op])

    def _band(self) -> Any:
        age = self.subjects.c.age
        whens: list[Any] = [(age.is_(None), None)]
        whens += [(age <= high, label) for label, _, high in AGE_BANDS if high is not None]
        return case(*whens, else_=AGE_BANDS[-1][0])

    # -- level 3: the populations ------------------------------------------------------------
    def _flags(self) -> Select[Any]:
        parts = self.parts.cte("parts").prefix_with("MATERIALIZED")
        columns: list[Any] = [parts.c.res_id, parts.c.practice, parts.c.band]
        previous: Any = None
        for k, alternatives in enumerate(self.part_labels):
            met = or_(*(and_(*(parts.c[name] == 1 for name in names))
                        for names in alternatives))
            within = met if previous is None else and_(previous, met)
            columns.append(case((within, 1), else_=0).label(f"f{k}"))
            previous = within
        columns += [parts.c[name] for alts in self.part_labels for names in alts
                    for name in names]
        if self.plan.observation is not None:
            columns.append(parts.c.observed)
        return select(*columns)

    # -- the statements ------------------------------------------------------------------------
    def summary(self) -> Select[Any]:
        f = self.flags
        sums = [func.sum(f.c[f"f{k}"]) for k in range(len(self.plan.populations))]
        return select(f.c.practice, f.c.band, *sums).where(f.c.f0 == 1).group_by(
            f.c.practice, f.c.band)

    def members(self) -> Select[Any]:
        """(res_id, f0..fn, parts...) of every subject in the first population (or the
        one person of an individual report, in or out)."""
        f = self.flags
        stmt = select(*[c for c in f.c if c.name not in ("practice", "band", "observed")])
        if self.scope.patient_id is None:
            stmt = stmt.where(f.c.f0 == 1)
        return stmt.order_by(f.c.res_id)

    def observations(self) -> Select[Any] | None:
        """(practice, band, value) per subject of the last population."""
        if self.plan.observation is None:
            return None
        f = self.flags
        last = f.c[f"f{len(self.plan.populations) - 1}"]
        return select(f.c.practice, f.c.band, f.c.observed).where(
            last == 1, f.c.observed.is_not(None))

    def _observed(self) -> Any:
        """Whole days from the earliest date of the source resources to the subject's date."""
        obs = self.plan.observation
        assert obs is not None
        source = dataclasses.replace(obs.source, at_least=1)
        conds, own, rid = self._related_conditions(source, None)
        i = t.idx_date.alias()
        first = select(func.min(i.c.low_us)).where(
            *conds, i.c.res_type == obs.source.query.resource_type, i.c.res_id == rid,
            i.c.param == obs.param).correlate_except(*own, i).scalar_subquery()
        return (self._subject_date(obs.until, "l") - first) // DAY_US


def _exists(own: list[Any], *conds: ColumnElement[bool]) -> ColumnElement[bool]:
    """EXISTS over ``own`` tables, correlated with every other table it names, at any
    depth (SQLAlchemy correlates on its own only with the SELECT just around it)."""
    return exists().where(*conds).correlate_except(*own)


def _ymd_of(us: int) -> int:
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    return day.year * 10000 + day.month * 100 + day.day


def _uncorrelated(rel: Related) -> bool:
    """Its resources' tests do not name the subject's own values: one set serves all."""
    lean = not any(isinstance(c, LastUpdatedTest) for c in rel.query.clauses)
    return lean and not (rel.dates or rel.joins or rel.latest) and rel.at_least == 1


async def run_summary(conn: AsyncConnection, sql: MeasureSql) -> list[Stratum]:
    rows = (await conn.execute(sql.summary())).all()
    return [Stratum(row[0], row[1], tuple(int(v or 0) for v in row[2:])) for row in rows]


async def run_members(conn: AsyncConnection,
                      sql: MeasureSql) -> list[tuple[str, tuple[int, ...], dict[str, int]]]:
    count = len(sql.plan.populations)
    out = []
    for row in (await conn.execute(sql.members())).all():
        flags = tuple(int(v) for v in row[1:1 + count])
        parts = {name: int(row._mapping[name]) for alts in sql.part_labels
                 for names in alts for name in names}
        out.append((str(row[0]), flags, parts))
    return out


async def run_observations(conn: AsyncConnection,
                           sql: MeasureSql) -> Sequence[tuple[str | None, str | None, int]]:
    stmt = sql.observations()
    if stmt is None:
        return []
    return [(row[0], row[1], int(row[2])) for row in (await conn.execute(stmt)).all()]
