"""A hand-built cohort for the measure tests: each person written out, with what they count
for. The period evaluated is 2026-Q3 (2026-07-01 .. 2026-09-30); ages are at death for the
death measures and on 2026-09-30 for cpr-decision-in-date.

Two practices: prac-a (ODS A0001) and prac-b (ODS B0002).
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.nhs_number import check_digit
from tests.builders import (
    BASE,
    make_care_plan,
    make_cpr_flag,
    make_emergency_admission,
    make_patient,
    make_place_of_death,
    make_preferred_place,
    make_register_flag,
)

__all__ = ["cohort", "PERIOD", "nhs"]

PERIOD = {"periodStart": "2026-07-01", "periodEnd": "2026-09-30"}
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"
PLACE = f"{BASE}/CodeSystem/eolc-place-type"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"


def nhs(i: int) -> str:
    """The i-th valid NHS number of a deterministic sequence (modulus 11)."""
    base = 999_000_000 + i * 13
    while True:
        check = check_digit(str(base))
        if check is not None:
            return f"{base}{check}"
        base += 1


class _Cohort:
    def __init__(self) -> None:
        self.resources: list[dict[str, Any]] = [
            {"resourceType": "Organization", "id": "prac-a", "name": "Practice A",
             "identifier": [{"system": ODS, "value": "A0001"}]},
            {"resourceType": "Organization", "id": "prac-b", "name": "Practice B",
             "identifier": [{"system": ODS, "value": "B0002"}]},
        ]
        self._n = 0

    def _add(self, resource: dict[str, Any]) -> None:
        self._n += 1
        resource.setdefault("id", f"{resource['resourceType'].lower()}-{self._n}")
        self.resources.append(resource)

    def person(self, pid: str, born: str, *, died: str | None = None,
               practice: str = "prac-a") -> dict[str, Any]:
        patient = make_patient(id=pid, birthDate=born,
                               generalPractitioner=[{"reference": f"Organization/{practice}"}])
        if born > "2008":  # EolcPatient is for adults: a child's record does not claim it
            patient.pop("meta")
        patient["identifier"][0]["value"] = nhs(len(self.resources))
        if died:
            patient["deceasedDateTime"] = died
        self.resources.append(patient)
        return {"reference": f"Patient/{pid}"}

    def died_at(self, who: dict[str, Any], when: str, place: str) -> None:
        self._add(make_place_of_death(subject=who, effectiveDateTime=when,
                                      valueCodeableConcept=_place(place)))

    def prefers(self, who: dict[str, Any], place: str, recorded: str, rank: int = 1) -> None:
        self._add(make_preferred_place(
            subject=who, effectiveDateTime=recorded, valueCodeableConcept=_place(place),
            extension=[{"url": f"{BASE}/StructureDefinition/eolc-preference-rank",
                        "valuePositiveInt": rank}]))

    def register(self, who: dict[str, Any], start: str, end: str | None = None) -> None:
        period = {"start": start, **({"end": end} if end else {})}
        self._add(make_register_flag(subject=who, period=period,
                                     status="inactive" if end else "active"))

    def plan(self, who: dict[str, Any], created: str, status: str = "active") -> None:
        self._add(make_care_plan(subject=who, created=created, status=status))

    def cpr(self, who: dict[str, Any], start: str, review: str) -> None:
        self._add(make_cpr_flag(subject=who, period={"start": start, "end": review}))

    def admitted(self, who: dict[str, Any], *starts: str, priority: str = "EM") -> None:
        for start in starts:
            self._add(make_emergency_admission(
                subject=who, period={"start": start},
                priority={"coding": [{"system": ACT_PRIORITY, "code": priority}]}))


def _place(code: str) -> dict[str, Any]:
    return {"coding": [{"system": PLACE, "code": code}]}


def cohort() -> list[dict[str, Any]]:
    c = _Cohort()
    # d1: died in hospital at 86 (85+); first choice home, recorded in March: not achieved;
    # on the register 188 days; plan in May; 3 emergency admissions in the last 90 days.
    d1 = c.person("d1", "1940-05-01", died="2026-08-10T10:00:00Z")
    c.died_at(d1, "2026-08-10T10:00:00Z", "10")
    c.prefers(d1, "21", "2026-03-01T11:00:00Z")
    c.register(d1, "2026-02-03")
    c.plan(d1, "2026-05-01")
    c.admitted(d1, "2026-06-01T09:00:00Z", "2026-07-01T09:00:00Z", "2026-08-01T09:00:00Z")
    # d2: died at home at 76 (75-84); first choice home recorded in June: achieved;
    # 60 days on the register; no plan; only 2 emergency admissions.
    d2 = c.person("d2", "1950-01-01", died="2026-07-15T08:00:00Z")
    c.died_at(d2, "2026-07-15T08:00:00Z", "21")
    c.prefers(d2, "21", "2026-06-01T11:00:00Z")
    c.register(d2, "2026-05-16")
    c.admitted(d2, "2026-06-01T09:00:00Z", "2026-07-01T09:00:00Z")
    # d3: died in a care home with nursing at 66 (65-74): usual place of residence; first
    # choice hospice, SECOND choice that care home: not achieved; register entry and plan
    # both made after death: neither counts; 2 emergency admissions in 90 days, one 123 days
    # before, and a routine (not emergency) one: not 3.
    d3 = c.person("d3", "1960-06-15", died="2026-09-01T10:00:00Z")
    c.died_at(d3, "2026-09-01T10:00:00Z", "41")
    c.prefers(d3, "30", "2026-01-10T11:00:00Z")
    c.prefers(d3, "41", "2026-01-10T11:00:00Z", rank=2)
    c.register(d3, "2026-09-05")
    c.plan(d3, "2026-09-02")
    c.admitted(d3, "2026-05-01T09:00:00Z", "2026-07-01T09:00:00Z", "2026-08-15T09:00:00Z")
    c.admitted(d3, "2026-08-20T09:00:00Z", priority="R")
    # d4: died in a hospice at 46 (18-64); first choice hospice recorded AFTER death: not in
    # the preferred-place denominator; on the register 231 days; plan the day before death;
    # 4 emergency admissions in the last 90 days.
    d4 = c.person("d4", "1980-03-03", died="2026-08-20T10:00:00Z")
    c.died_at(d4, "2026-08-20T10:00:00Z", "30")
    c.prefers(d4, "30", "2026-08-25T11:00:00Z")
    c.register(d4, "2026-01-01")
    c.plan(d4, "2026-08-19")
    c.admitted(d4, "2026-07-01T09:00:00Z", "2026-07-15T09:00:00Z", "2026-08-01T09:00:00Z",
               "2026-08-10T09:00:00Z")
    # d5: died on the first morning of the period at 96 (85+) in another private residence;
    # first choice home in April, then a NEW first choice of that residence in June: the
    # latest first choice counts: achieved; never on the register, no plan.
    d5 = c.person("d5", "1930-07-01", died="2026-07-01T00:30:00Z")
    c.died_at(d5, "2026-07-01T00:30:00Z", "22")
    c.prefers(d5, "21", "2026-04-01T11:00:00Z")
    c.prefers(d5, "22", "2026-06-01T11:00:00Z")
    # d6 (practice B): died in hospital in the last hour of the period at 81 (75-84); no
    # preference; 10 days on the register; 3 emergency admissions in September.
    d6 = c.person("d6", "1945-02-02", died="2026-09-30T23:00:00Z", practice="prac-b")
    c.died_at(d6, "2026-09-30T23:00:00Z", "10")
    c.register(d6, "2026-09-20")
    c.admitted(d6, "2026-09-01T09:00:00Z", "2026-09-10T09:00:00Z", "2026-09-20T09:00:00Z")
    # d7: died in hospital an hour before the period: in no death measure.
    d7 = c.person("d7", "1940-01-01", died="2026-06-30T23:00:00Z")
    c.died_at(d7, "2026-06-30T23:00:00Z", "10")
    # d8: died an hour after the period: in no death measure, but alive on 2026-09-30 and
    # on the register then with a CPR decision in date (cpr numerator), at 91 (85+).
    d8 = c.person("d8", "1935-01-01", died="2026-10-01T01:00:00Z")
    c.died_at(d8, "2026-10-01T01:00:00Z", "10")
    c.register(d8, "2026-01-01")
    c.cpr(d8, "2026-02-01T10:00:00Z", "2026-12-01")
    # d9: died in hospital at 16: under 18, in no measure.
    d9 = c.person("d9", "2010-01-01", died="2026-08-05T10:00:00Z")
    c.died_at(d9, "2026-08-05T10:00:00Z", "10")
    # d10 (practice B): died at 71 (65-74) with no place of death recorded; a register entry
    # from December 2025 ended in March (it started before death: 283 days); a plan
    # entered in error does not count.
    d10 = c.person("d10", "1955-05-05", died="2026-09-10T10:00:00Z", practice="prac-b")
    c.register(d10, "2025-12-01", "2026-03-01")
    c.plan(d10, "2026-01-01", status="entered-in-error")
    # d11 (practice B): died at home the day before her 85th birthday (75-84); first choice
    # home recorded the day before: achieved; 1 day on the register; plan the day before that.
    d11 = c.person("d11", "1941-08-02", died="2026-08-01T10:00:00Z", practice="prac-b")
    c.died_at(d11, "2026-08-01T10:00:00Z", "21")
    c.prefers(d11, "21", "2026-07-31T11:00:00Z")
    c.register(d11, "2026-07-31")
    c.plan(d11, "2026-07-30")
    _living(c)
    return c.resources


def _living(c: _Cohort) -> None:
    # l1: alive at 76 (75-84), on the register, CPR decision reviewed by December: in date.
    l1 = c.person("l1", "1950-04-04")
    c.register(l1, "2026-01-01")
    c.cpr(l1, "2026-02-01T10:00:00Z", "2026-12-31")
    # l2: alive at 80 (75-84), on the register, CPR review date 1 September: passed.
    l2 = c.person("l2", "1945-11-11")
    c.register(l2, "2026-03-01")
    c.cpr(l2, "2026-02-01T10:00:00Z", "2026-09-01")
    # l3 (practice B): alive at 36 (18-64), on the register, no CPR decision.
    l3 = c.person("l3", "1990-01-01", practice="prac-b")
    c.register(l3, "2026-05-01")
    # l4: put on the register after the period: not on it on 2026-09-30.
    l4 = c.person("l4", "1950-01-01")
    c.register(l4, "2026-10-15")
    c.cpr(l4, "2026-10-15T10:00:00Z", "2027-01-01")
    # l5: taken off the register in August: not on it on 2026-09-30.
    l5 = c.person("l5", "1950-01-01")
    c.register(l5, "2026-01-01", "2026-08-01")
    # l6: on the register at 17: under 18.
    l6 = c.person("l6", "2009-06-01")
    c.register(l6, "2026-01-01")
    c.cpr(l6, "2026-02-01T10:00:00Z", "2026-12-31")
