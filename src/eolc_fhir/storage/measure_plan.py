"""A measure's populations as plain data: what ``search/measures.py`` plans and
``measure_sql`` compiles to one set-based statement per question.

The subject of every measure is a Patient. A population is the OR of its
alternatives; an alternative is the AND of tests on the subject itself and of
"the subject has such related resources" tests. Dates may be compared with one
of the subject's own dates (its death) rather than with a literal: that is the
correlation the FHIR search syntax alone cannot say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from eolc_fhir.storage.query import Query

__all__ = ["DateOp", "SubjectDate", "CorrelatedDate", "AgeTest", "TokenJoin", "Related",
           "Alternative", "Population", "DaysBetween", "GroupPlan", "Scope", "Stratum",
           "AGE_BANDS"]

DateOp = Literal["lt", "le", "gt", "ge"]
# Age bands of the stratifier: (label, lowest age, highest age or None).
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("0-17", 0, 17), ("18-64", 18, 64), ("65-74", 65, 74), ("75-84", 75, 84),
    ("85+", 85, None))


@dataclass(frozen=True, slots=True)
class SubjectDate:
    """One of the subject's own dates: its date search parameter (``death-date``)."""

    param: str
    offset_us: int = 0  # added to it: ``%death - 90 days``


@dataclass(frozen=True, slots=True)
class CorrelatedDate:
    """``param`` (a date parameter of the resource tested) ``op`` the subject's date."""

    param: str
    op: DateOp
    other: SubjectDate


@dataclass(frozen=True, slots=True)
class AgeTest:
    """The subject's age in whole years at the group's reference date, ``op`` ``years``."""

    op: Literal["eq", "ne", "lt", "le", "gt", "ge"]
    years: int


@dataclass(frozen=True, slots=True)
class TokenJoin:
    """Our token ``param`` holds a (system, code) that ``other``'s ``other_param`` holds:
    "the actual place is that first choice"."""

    param: str
    other: Related
    other_param: str


@dataclass(frozen=True, slots=True)
class Related:
    """The subject has at least ``at_least`` resources of ``query.resource_type`` that
    refer to it through ``link`` and meet ``query``, ``dates`` and ``joins``; ``latest``:
    only the one with the latest value of that date parameter counts (per subject)."""

    query: Query
    link: str = "patient"
    dates: tuple[CorrelatedDate, ...] = ()
    joins: tuple[TokenJoin, ...] = ()
    at_least: int = 1
    latest: str | None = None
    text: str = ""  # as the Measure wrote it, for the reasons of an individual report


@dataclass(frozen=True, slots=True)
class Alternative:
    """The AND of tests on the subject (``subject``: Patient clauses) and related tests."""

    subject: Query
    dates: tuple[CorrelatedDate, ...] = ()
    ages: tuple[AgeTest, ...] = ()
    related: tuple[Related, ...] = ()
    text: str = ""  # the subject's own tests as the Measure wrote them

    @property
    def tests_subject(self) -> bool:
        return bool(self.subject.clauses or self.dates or self.ages)


@dataclass(frozen=True, slots=True)
class Population:
    """A population (code as in measure-population): within the one before it in the group."""

    code: str
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True, slots=True)
class DaysBetween:
    """Per subject of the last population: days from the earliest ``param`` date of the
    ``source`` resources to the subject's date ``until``."""

    source: Related
    param: str
    until: SubjectDate


@dataclass(frozen=True, slots=True)
class GroupPlan:
    populations: tuple[Population, ...]
    age_at: SubjectDate | None = None  # None: at ``age_at_us`` (the period end)
    age_at_us: int = 0
    observation: DaysBetween | None = None


@dataclass(frozen=True, slots=True)
class Scope:
    """Whom an evaluation covers: everyone, one practice's patients, or one patient."""

    practice_id: str | None = None
    patient_id: str | None = None


@dataclass(frozen=True, slots=True)
class Stratum:
    """Subjects of one (practice, age band): per population, how many."""

    practice_id: str | None
    band: str | None
    counts: tuple[int, ...] = field(default_factory=tuple)
