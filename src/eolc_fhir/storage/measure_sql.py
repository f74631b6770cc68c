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
from eolc_fhir.storage.query import Has, Query
from eolc_fhir.storage.search_sql import probe_conditions, query_conditions

__all__ = ["MeasureSql", "DAY_US", "run_summary", "run_members", "run_observations"]

DAY_US = 86_400_000_000
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
        self.subjects = self._subjects().subquery("subjects")
        self.parts, self.part_labels = self._parts()
        self.flags = self._flags().subquery("flags")

    # -- level 1: the subjects and their own columns ------------------------------------
    def _subject_value(self, param: str, agg: Any, column: str, p: Any) -> Any:
        i = t.idx_date.alias()
        return select(agg(i.c[column])).where(
            i.c.res_type == "Patient", i.c.res_id == p.c.res_id, i.c.param == param
        ).scalar_subquery()

    def _subjects(self) -> Select[Any]:
        p = t.resources.alias("p")
        ref = t.idx_reference.alias()
        practice = select(func.min(ref.c.target_id)).where(
            ref.c.res_type == "Patient", ref.c.res_id == p.c.res_id,
            ref.c.param == _PRACTICE_PARAM, ref.c.target_type == "Organization",
        ).scalar_subquery()
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
        conds = [or_(*(and_(*query_conditions(self.dialect, _prefilter(alt), p))
                       for alt in self.plan.populations[0].alternatives))]
        if self.scope.practice_id is not None:
            ref = t.idx_reference.alias()
            conds.append(exists().where(
                ref.c.res_type == "Patient", ref.c.res_id == p.c.res_id,
                ref.c.param == _PRACTICE_PARAM, ref.c.target_type == "Organization",
                ref.c.target_id == self.scope.practice_id))
        return [p.c.res_type == "Patient", p.c.deleted.is_(False), *conds]

    # -- level 2: one 0/1 column per test --------------------------------------------------
    def _parts(self) -> tuple[Select[Any], list[list[list[str]]]]:
        s = self.subjects
        columns: list[Any] = [s.c.res_id, s.c.practice, self._band().label("band")]
        labels: list[list[list[str]]] = []
        for k, population in enumerate(self.plan.populations):
            labels.append([])
            for a, alt in enumerate(population.alternatives):
                labels[-1].append([])
                for n, cond in enumerate(self._alternative_parts(alt)):
                    name = f"p{k}_{a}_{n}"
                    labels[-1][-1].append(name)
                    columns.append(case((cond, 1), else_=0).label(name))
        return select(*columns), labels

    def _alternative_parts(self, alt: Alternative) -> list[ColumnElement[bool]]:
        s = self.subjects
        parts: list[ColumnElement[bool]] = []
        if alt.tests_subject:
            own: list[ColumnElement[bool]] = [
                self._date_test(d, "Patient", s.c.res_id) for d in alt.dates]
            own += [self._age_test(x.op, x.years) for x in alt.ages]
            if alt.subject.clauses:
                p = t.resources.alias()
                own.append(exists().where(p.c.res_type == "Patient", p.c.res_id == s.c.res_id,
                                          *probe_conditions(self.dialect, alt.subject, p)))
            parts.append(and_(*own))
        parts += [self._related(rel) for rel in alt.related]
        return parts or [true()]

    def _related(self, rel: Related, extra: Extra | None = None) -> ColumnElement[bool]:
        conds, r = self._related_conditions(rel, extra)
        if rel.at_least > 1:
            counted = select(func.count(distinct(r.c.res_id))).where(*conds).scalar_subquery()
            return counted >= rel.at_least
        return exists().where(*conds)

    def _related_conditions(self, rel: Related,
                            extra: Extra | None) -> tuple[list[ColumnElement[bool]], Any]:
        rtype = rel.query.resource_type
        ref, r = t.idx_reference.alias(), t.resources.alias()
        conds: list[ColumnElement[bool]] = [
            ref.c.param == rel.link, ref.c.target_id == self.subjects.c.res_id,
            ref.c.target_type == "Patient", ref.c.res_type == rtype,
            r.c.res_type == rtype, r.c.res_id == ref.c.res_id, r.c.deleted.is_(False),
            *probe_conditions(self.dialect, rel.query, r)]
        conds += [self._date_test(d, rtype, r.c.res_id) for d in rel.dates]
        conds += [self._join(j, rtype, r) for j in rel.joins]
        if rel.latest is not None:  # no matching resource of this subject is later
            param, earlier = rel.latest, r

            def later(r2: Any) -> ColumnElement[bool]:
                return self._first(rtype, r2.c.res_id, param) > self._first(  # type: ignore[no-any-return]
                    rtype, earlier.c.res_id, param)

            conds.append(~self._related(dataclasses.replace(rel, latest=None, at_least=1),
                                        later))
        if extra is not None:
            conds.append(extra(r))
        return conds, r

    def _first(self, rtype: str, rid: Any, param: str) -> Any:
        i = t.idx_date.alias()
        return select(func.min(i.c.low_us)).where(
            i.c.res_type == rtype, i.c.res_id == rid, i.c.param == param).scalar_subquery()

    def _join(self, join: TokenJoin, rtype: str, r: Any) -> ColumnElement[bool]:
        mine, theirs = t.idx_token.alias(), t.idx_token.alias()
        other_type = join.other.query.resource_type

        def same_code(r2: Any) -> ColumnElement[bool]:
            return exists().where(theirs.c.res_type == other_type, theirs.c.res_id == r2.c.res_id,
                                  theirs.c.param == join.other_param,
                                  theirs.c.system == mine.c.system, theirs.c.code == mine.c.code)

        return exists().where(mine.c.res_type == rtype, mine.c.res_id == r.c.res_id,
                              mine.c.param == join.param, self._related(join.other, same_code))

    def _subject_date(self, other: SubjectDate, end: str) -> Any:
        column = self.subjects.c[self._labels[other.param] + end]
        return column + other.offset_us if other.offset_us else column

    def _date_test(self, d: CorrelatedDate, rtype: str, rid: Any) -> ColumnElement[bool]:
        i = t.idx_date.alias()
        low, high = self._subject_date(d.other, "l"), self._subject_date(d.other, "h")
        test = {"lt": i.c.low_us < low, "le": i.c.low_us <= high,
                "gt": i.c.high_us > high, "ge": i.c.high_us >= low}[d.op]
        return exists().where(i.c.res_type == rtype, i.c.res_id == rid, i.c.param == d.param,
                              test)

    # -- ages ------------------------------------------------------------------------------
    def _ymd(self, us: Any) -> Any:
        """A microsecond instant as the integer YYYYMMDD of its UTC day."""
        if self.dialect == "postgresql":
            moment = func.timezone("UTC", func.to_timestamp(us / 1_000_000.0))
            return cast(func.to_char(moment, "YYYYMMDD"), Integer)
        return cast(func.strftime("%Y%m%d", us // 1_000_000, "unixepoch"), Integer)

    def _age(self) -> Any:
        """Whole years from birth to the reference date: (YYYYMMDD - YYYYMMDD) div 10000."""
        if self.plan.age_at is not None:
            at = self._ymd(self._subject_date(self.plan.age_at, "l"))
        else:
            at = literal(_ymd_of(self.plan.age_at_us))
        return (at - self._ymd(self.subjects.c.birth)) // 10000

    def _age_test(self, op: str, years: int) -> ColumnElement[bool]:
        age = self._age()
        tests = {"eq": age == years, "ne": age != years, "lt": age < years,
                 "le": age <= years, "gt": age > years, "ge": age >= years}
        return and_(self.subjects.c.birth.is_not(None), tests[op])

    def _band(self) -> Any:
        age = self._age()
        whens: list[Any] = [(self.subjects.c.birth.is_(None), None)]
        whens += [(age <= high, label) for label, _, high in AGE_BANDS if high is not None]
        return case(*whens, else_=AGE_BANDS[-1][0])

    # -- level 3: the populations ------------------------------------------------------------
    def _flags(self) -> Select[Any]:
        parts = self.parts.subquery("parts")
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
        stmt = select(*[c for c in f.c if c.name not in ("practice", "band")])
        if self.scope.patient_id is None:
            stmt = stmt.where(f.c.f0 == 1)
        return stmt.order_by(f.c.res_id)

    def observations(self) -> Select[Any] | None:
        """(practice, band, days) per subject of the last population."""
        obs = self.plan.observation
        if obs is None:
            return None
        f, s = self.flags, self.subjects
        last = f.c[f"f{len(self.plan.populations) - 1}"]
        conds, r = self._related_conditions(dataclasses.replace(obs.source, at_least=1), None)
        i = t.idx_date.alias()
        first = select(func.min(i.c.low_us)).where(
            *conds, i.c.res_type == obs.source.query.resource_type, i.c.res_id == r.c.res_id,
            i.c.param == obs.param).scalar_subquery()
        until = self._subject_date(obs.until, "l")
        days = (until - first) // DAY_US
        inner = select(s.c.res_id, days.label("days")).subquery("observed")
        return select(f.c.practice, f.c.band, inner.c.days).join_from(
            f, inner, inner.c.res_id == f.c.res_id).where(last == 1, inner.c.days.is_not(None))


def _ymd_of(us: int) -> int:
    from datetime import UTC, datetime

    day = datetime.fromtimestamp(us / 1_000_000, tz=UTC)
    return day.year * 10000 + day.month * 100 + day.day


def _prefilter(alt: Alternative) -> Query:
    """A superset of the alternative's subjects in plain search clauses: its own clauses,
    and ``_has`` for each related test (the correlations left out), so the planner can
    drive from the most selective index."""
    has = tuple(Has(rel.link, rel.query) for rel in alt.related)
    return Query("Patient", (*alt.subject.clauses, *has))


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
