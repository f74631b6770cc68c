"""What happened to a synthetic person: death, where it happened, and hospital admissions.

Drawn from a random stream of its own (``outcome:<seed>:<index>``), so the people
who live are built exactly as before outcomes existed. About a third of the
region died in the two years before the reference day; their records were
made before death (the person is built with the day of death as its "today"),
some were identified only days before death and some never. Where they died
depends on the plan and the first choice: with both, most died where they
wanted; without a plan, most died in hospital, after more emergency
admissions in their last 90 days.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from eolc_fhir.demo.region import ODS_SYSTEM, Region, demo_id, ref
from eolc_fhir.demo.vocabulary import (
    ACT_CODE,
    ACT_PRIORITY,
    CONCEPTS,
    DEATH_PLACES,
    PLACE_TYPE,
)

__all__ = ["Fate", "fate_of", "record_what_happened", "DIED_SHARE"]

DIED_SHARE = 1 / 3
_YEARS_BACK = 730  # deaths over the two years before the reference day
_REGISTER = ("526631000000108", "1403151000000103", "414937009")
_ELSEWHERE = {"21": 40, "41": 18, "42": 8, "30": 22, "22": 6, "50": 6}  # when not in hospital


@dataclass(frozen=True)
class Fate:
    """Whether and when person ``index`` died, and how well the region knew them."""

    rng: random.Random
    died: datetime | None = None
    identified: str = "early"  # "early" | "late" (days before death) | "never"

    @property
    def record_day(self) -> date | None:
        return self.died.date() if self.died else None


def fate_of(seed: int, index: int, today: date) -> Fate:
    rng = random.Random(f"outcome:{seed}:{index}")
    if rng.random() >= DIED_SHARE:
        return Fate(rng)
    day = today - timedelta(days=rng.randint(1, _YEARS_BACK))
    died = datetime.combine(day, time(rng.randint(0, 23), rng.randint(0, 59)), UTC)
    roll = rng.random()
    identified = "never" if roll < 0.12 else "late" if roll < 0.27 else "early"
    return Fate(rng, died, identified)


def record_what_happened(region: Region, index: int, today: date, fate: Fate,
                         out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``out`` (the person's records, Patient first) with their outcome added."""
    if fate.died is None:
        return out + _living_encounters(region, index, today, fate.rng, out[0])
    kept = _as_at_death(out, fate)
    patient = kept[0]
    patient["deceasedDateTime"] = _instant(fate.died)
    plan = any(r["resourceType"] == "CarePlan" for r in kept)
    place = _actual_place(fate.rng, plan, _first_choice(kept))
    encounters = _last_admissions(region, index, fate, patient, plan, place == "10")
    return kept + encounters + [_place_of_death(region.seed, index, patient, fate.died, place)]


def _as_at_death(out: list[dict[str, Any]], fate: Fate) -> list[dict[str, Any]]:
    """The records as they stood at death: never identified, no record but the Patient;
    identified late, a register entry days before death and no plan; the register entry
    closed at death (inactive, period.end), coordinated care finished."""
    assert fate.died is not None
    if fate.identified == "never":
        return out[:1]
    died = fate.died.date().isoformat()
    kept = [r for r in out if fate.identified == "early" or r["resourceType"] != "CarePlan"]
    for resource in kept:
        kind = resource["resourceType"]
        if kind == "Flag" and resource["code"]["coding"][0]["code"] in _REGISTER:
            if fate.identified == "late":
                start = fate.died.date() - timedelta(days=fate.rng.randint(1, 14))
                resource["period"]["start"] = start.isoformat()
            resource["status"] = "inactive"
            resource["period"]["end"] = died
        elif kind == "EpisodeOfCare" and resource["status"] != "finished":
            resource["status"] = "finished"
            resource["period"]["end"] = died
        elif kind == "CareTeam":
            resource["status"] = "inactive"
    return kept


def _first_choice(records: list[dict[str, Any]]) -> str | None:
    """The first-choice preferred place of death, when it is a place (not 'undecided')."""
    for resource in records:
        if (resource["resourceType"] == "Observation"
                and resource["code"]["coding"][0]["code"] == "preferred-place-of-death"
                and resource["extension"][0]["valuePositiveInt"] == 1):
            coding = resource["valueCodeableConcept"]["coding"][0]
            return str(coding["code"]) if coding["system"] == PLACE_TYPE else None
    return None


def _actual_place(rng: random.Random, plan: bool, first_choice: str | None) -> str:
    """A plan and a first choice: 70% died there. No plan: about 64% died in hospital."""
    achieved = 0.70 if plan else 0.22
    if first_choice is not None and rng.random() < achieved:
        return first_choice
    in_hospital = (0.80 if first_choice else 0.50) if plan else 0.68
    if rng.random() < in_hospital:
        return "10"
    return rng.choices(list(_ELSEWHERE), weights=list(_ELSEWHERE.values()))[0]


def _place_of_death(seed: int, index: int, patient: dict[str, Any], died: datetime,
                    place: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": demo_id(seed, f"place-of-death:{index}"),
        "status": "final",
        "code": {"coding": [{"system": CONCEPTS, "code": "actual-place-of-death",
                             "display": "Actual place of death"}]},
        "subject": ref(patient, _name(patient)),
        "effectiveDateTime": _instant(died),
        "valueCodeableConcept": {"coding": [{"system": PLACE_TYPE, "code": place,
                                             "display": DEATH_PLACES[place]}]},
    }


def _last_admissions(region: Region, index: int, fate: Fate, patient: dict[str, Any],
                     plan: bool, in_hospital: bool) -> list[dict[str, Any]]:
    """Emergency admissions in the last 90 days (more without a plan; a hospital death
    ends the last one), sometimes one earlier, and now and then an elective stay."""
    assert fate.died is not None
    rng, died = fate.rng, fate.died
    count = rng.choices(range(6), weights=(40, 28, 16, 9, 5, 2) if plan
                        else (18, 22, 22, 18, 12, 8))[0]
    count = max(count, 1 if in_hospital else 0)
    # Admitted for the last time a few days before a hospital death; otherwise any day.
    days = sorted(rng.sample(range(15, 90), count - 1) + [rng.randint(1, 14)] if in_hospital
                  else rng.sample(range(2, 90), count), reverse=True)
    starts = [died - timedelta(days=before, hours=rng.randint(0, 12)) for before in days]
    stays = []
    for n, start in enumerate(starts):
        dies_there = in_hospital and n == count - 1
        following = starts[n + 1] if n + 1 < count else died
        end = died if dies_there else min(
            start + timedelta(days=rng.randint(1, 6)), following - timedelta(hours=12))
        stays.append(_encounter(region, f"admission:{index}:{n}", patient, rng, start, end,
                                kind="IMP" if dies_there else None))
    if rng.random() < 0.3:
        start = died - timedelta(days=rng.randint(100, 360))
        stays.insert(0, _encounter(region, f"admission:{index}:early", patient, rng, start,
                                   start + timedelta(days=rng.randint(1, 8))))
    if rng.random() < 0.06:
        start = died - timedelta(days=rng.randint(20, 200))
        stays.insert(0, _encounter(region, f"elective:{index}", patient, rng, start,
                                   start + timedelta(days=2), emergency=False))
    return stays


def _living_encounters(region: Region, index: int, today: date, rng: random.Random,
                       patient: dict[str, Any]) -> list[dict[str, Any]]:
    """A few of the living had an emergency admission this year, fewer an elective one."""
    now = datetime.combine(today, time(0, 0), UTC)
    stays = []
    for n in range(rng.choices((0, 1, 2), weights=(88, 9, 3))[0]):
        start = now - timedelta(days=rng.randint(10, 365), hours=rng.randint(0, 23))
        stays.append(_encounter(region, f"admission:{index}:{n}", patient, rng, start,
                                start + timedelta(days=rng.randint(1, 7))))
    if rng.random() < 0.04:
        start = now - timedelta(days=rng.randint(10, 365), hours=rng.randint(0, 23))
        stays.append(_encounter(region, f"elective:{index}", patient, rng, start,
                                start + timedelta(days=1), emergency=False))
    return stays


def _encounter(region: Region, key: str, patient: dict[str, Any], rng: random.Random,
               start: datetime, end: datetime, emergency: bool = True,
               kind: str | None = None) -> dict[str, Any]:
    """An admission as a hospital system sends it (EMER: seen in A&E, sent home)."""
    hospital = region.hospitals[0] if rng.random() < 0.7 else region.hospitals[-1]
    chance = rng.random()
    kind = kind or ("IMP" if not emergency or chance < 0.8 else "EMER")
    if kind == "EMER":
        end = min(end, start + timedelta(hours=rng.randint(3, 11)))
    priority = ("EM", "emergency") if emergency else ("R", "routine")
    return {
        "resourceType": "Encounter",
        "id": demo_id(region.seed, key),
        "status": "finished",
        "class": {"system": ACT_CODE, "code": kind,
                  "display": "inpatient encounter" if kind == "IMP" else "emergency"},
        "priority": {"coding": [{"system": ACT_PRIORITY, "code": priority[0],
                                 "display": priority[1]}]},
        "subject": ref(patient, _name(patient)),
        "period": {"start": _instant(start), "end": _instant(end)},
        "serviceProvider": {"reference": f"Organization/{hospital['id']}",
                            "identifier": {"system": ODS_SYSTEM,
                                           "value": hospital["identifier"][0]["value"]},
                            "display": hospital["name"]},
    }


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:00Z")


def _name(patient: dict[str, Any]) -> str:
    name = patient["name"][0]
    return f"{name['given'][0]} {name['family']}"
