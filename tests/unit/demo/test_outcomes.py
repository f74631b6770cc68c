"""What happened in the demo region: deaths, where, and the admissions before them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from eolc_fhir.config import Settings
from eolc_fhir.demo.outcomes import fate_of
from eolc_fhir.demo.people import NhsNumbers, person_resources
from eolc_fhir.demo.region import build_region
from eolc_fhir.validation import ProfileSet

TODAY = date(2026, 11, 30)
PEOPLE = 900
REGISTER = {"526631000000108", "1403151000000103", "414937009"}
Person = list[dict[str, Any]]


@lru_cache(maxsize=2)
def _region(seed: int = 5) -> tuple[Person, ...]:
    region, numbers = build_region(seed, PEOPLE), NhsNumbers(seed)
    return tuple(person_resources(region, i, TODAY, numbers.for_person(i))
                 for i in range(PEOPLE))


def _dead() -> list[Person]:
    return [p for p in _region() if "deceasedDateTime" in p[0]]


def _died(person: Person) -> datetime:
    return _at(person[0]["deceasedDateTime"])


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if "T" in text else \
        datetime.fromisoformat(f"{text}T00:00:00+00:00")


def _code(resource: dict[str, Any]) -> str:
    return str(resource.get("code", {}).get("coding", [{}])[0].get("code"))


def _of(person: Person, rtype: str, code: str | None = None) -> list[dict[str, Any]]:
    return [r for r in person if r["resourceType"] == rtype and (code is None or _code(r) == code)]


def _place_of_death(person: Person) -> str:
    [obs] = _of(person, "Observation", "actual-place-of-death")
    return str(obs["valueCodeableConcept"]["coding"][0]["code"])


def _first_choice(person: Person) -> str | None:
    for obs in _of(person, "Observation", "preferred-place-of-death"):
        coding = obs["valueCodeableConcept"]["coding"][0]
        if obs["extension"][0]["valuePositiveInt"] == 1 and coding["system"].endswith("place-type"):
            return str(coding["code"])
    return None


def _emergencies(person: Person) -> list[dict[str, Any]]:
    return [e for e in _of(person, "Encounter") if e["priority"]["coding"][0]["code"] == "EM"]


def _in_last_90_days(person: Person) -> int:
    died = _died(person)
    return sum(died - timedelta(days=90) <= _at(e["period"]["start"]) <= died
               for e in _emergencies(person))


def test_about_a_third_died_in_the_two_years_before_today() -> None:
    dead = _dead()
    assert 0.28 < len(dead) / PEOPLE < 0.39
    deaths = [_died(p).date() for p in dead]
    assert min(deaths) >= TODAY - timedelta(days=730) and max(deaths) < TODAY
    assert len({d.year for d in deaths}) == 3  # spread over the two years, not bunched
    for person in dead:
        [obs] = _of(person, "Observation", "actual-place-of-death")
        assert obs["effectiveDateTime"] == person[0]["deceasedDateTime"]


def test_nothing_is_recorded_after_death_but_the_place_of_death() -> None:
    for person in _dead():
        died = _died(person)
        for resource in person:
            for moment in _recorded_at(resource):
                assert _at(moment) <= died, (resource["resourceType"], moment, died)


def _recorded_at(resource: dict[str, Any]) -> list[str]:
    """When each kind of record says it was made (review dates look ahead, by design)."""
    rtype = resource["resourceType"]
    period = resource.get("period", {})
    found = {
        "Patient": [resource.get("birthDate")],
        "Flag": [period.get("start")] + ([period.get("end")] if _code(resource) in REGISTER
                                         else []),
        "Consent": [resource.get("dateTime")], "DocumentReference": [resource.get("date")],
        "CarePlan": [resource.get("created")], "MedicationRequest": [resource.get("authoredOn")],
        "Observation": [resource.get("effectiveDateTime")],
        "EpisodeOfCare": [period.get("start"), period.get("end")],
        "Encounter": [period.get("start"), period.get("end")],
    }.get(rtype, [])
    return [moment for moment in found if moment]


def test_register_entries_of_the_dead_end_at_death_some_late_some_never() -> None:
    late = never = 0
    for person in _dead():
        entries = _of(person, "Flag")
        entries = [f for f in entries if _code(f) in REGISTER]
        if not entries:
            never += 1
            # the Patient and what happened to them, nothing of the coordination record
            assert {r["resourceType"] for r in person} <= {"Patient", "Encounter", "Observation"}
            assert len(_of(person, "Observation")) == 1
            continue
        [entry] = entries
        assert entry["status"] == "inactive"
        assert entry["period"]["end"] == _died(person).date().isoformat()
        if (_died(person) - _at(entry["period"]["start"])).days <= 14:
            late += 1
    dead = len(_dead())
    assert 0.06 < never / dead < 0.2 and 0.08 < late / dead < 0.25


def test_where_people_died_depends_on_plan_and_first_choice() -> None:
    planned = [p for p in _dead() if _of(p, "CarePlan") and _first_choice(p)]
    unplanned = [p for p in _dead() if not _of(p, "CarePlan")]
    achieved = sum(_place_of_death(p) == _first_choice(p) for p in planned) / len(planned)
    in_hospital = sum(_place_of_death(p) == "10" for p in unplanned) / len(unplanned)
    overall = sum(_place_of_death(p) == "10" for p in _dead()) / len(_dead())
    assert len(planned) > 50 and len(unplanned) > 100
    assert 0.6 < achieved < 0.8
    assert 0.55 < in_hospital < 0.72
    assert 0.45 < overall < 0.6
    assert {_place_of_death(p) for p in _dead()} >= {"10", "21", "30", "41"}


def test_emergency_admissions_crowd_the_last_90_days_more_without_a_plan() -> None:
    dead = _dead()
    admissions = [e for p in dead for e in _emergencies(p)]
    last = sum(_in_last_90_days(p) for p in dead)
    assert last / len(admissions) > 0.8
    planned = [p for p in dead if _of(p, "CarePlan")]
    unplanned = [p for p in dead if not _of(p, "CarePlan")]
    share = {name: sum(_in_last_90_days(p) >= 3 for p in group) / len(group)
             for name, group in (("plan", planned), ("none", unplanned))}
    assert share["none"] > 0.3 and share["none"] > 1.8 * share["plan"]
    for person in dead:  # a hospital death ends the last admission
        if _place_of_death(person) == "10":
            assert max(e["period"]["end"] for e in _emergencies(person)) == \
                person[0]["deceasedDateTime"]


def test_the_living_have_a_few_admissions_none_ahead_of_today() -> None:
    living = [p for p in _region() if "deceasedDateTime" not in p[0]]
    admitted = [p for p in living if _emergencies(p)]
    assert 0.05 < len(admitted) / len(living) < 0.2
    assert all(_at(e["period"]["end"]).date() <= TODAY for p in living for e in _of(p, "Encounter"))
    assert not any(_of(p, "Observation", "actual-place-of-death") for p in living)


def test_admissions_meet_their_profile_and_elective_stays_are_not_profiled() -> None:
    profiles = ProfileSet.load(Settings().profiles_dir)
    encounters = [e for p in _region()[:300] for e in _of(p, "Encounter")]
    elective = [e for e in encounters if e["priority"]["coding"][0]["code"] != "EM"]
    assert elective and len(elective) < len(encounters) / 5
    for encounter in encounters:
        applies = [u.rsplit("/", 1)[1] for u in profiles.applicable_profiles(encounter)]
        assert applies == ([] if encounter in elective else ["EolcEmergencyAdmission"])
        assert encounter["serviceProvider"]["identifier"]["value"] in ("RH801", "RK950")
        assert profiles.validate(encounter) == []


def test_outcomes_are_the_same_for_a_seed_and_differ_between_seeds() -> None:
    region, numbers = build_region(5, 40), NhsNumbers(5)
    again = [person_resources(region, i, TODAY, numbers.for_person(i)) for i in range(40)]
    assert list(_region(5)[:40]) == again
    deaths = [fate_of(seed, i, TODAY).died is not None for seed in (5, 6) for i in range(60)]
    assert deaths[:60] != deaths[60:]
