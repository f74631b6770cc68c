"""The profiles of what happened: actual place of death and emergency admissions."""

from __future__ import annotations

import pytest

import tests.builders as b
from eolc_fhir.validation import ProfileSet

ADMISSION = b.profile_url("EolcEmergencyAdmission")


def _errors(profile_set: ProfileSet, resource: dict[str, object]) -> set[tuple[str, str]]:
    return {(i.code, i.expression[0]) for i in profile_set.validate(resource) if i.is_error}


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"effectiveDateTime": None}, ("required", "Observation.effective")),
        (
            {"effectiveDateTime": None, "effectivePeriod": {"start": "2026-09-14"}},
            ("structure", "Observation.effective.ofType(Period)"),
        ),
        ({"subject": None}, ("required", "Observation.subject")),
        (
            {"valueCodeableConcept": {"coding": [{"system": b.SCT, "code": "517161000000101"}]}},
            ("code-invalid", "Observation.value.ofType(CodeableConcept)"),
        ),
    ],
)
def test_place_of_death_needs_a_time_a_person_and_a_death_location_type(
    profile_set: ProfileSet, overrides: dict[str, object], expected: tuple[str, str]
) -> None:
    # "Undecided" is a valid preference but never an actual place of death.
    errors = _errors(profile_set, b.make_place_of_death(**overrides))
    assert any(code == expected[0] and where.startswith(expected[1]) for code, where in errors), (
        errors
    )


def test_an_admission_profile_applies_only_to_emergency_inpatient_or_emergency_class(
    profile_set: ProfileSet,
) -> None:
    elective = b.make_emergency_admission(
        priority={"coding": [{"system": b.ACT_PRIORITY, "code": "EL"}]}, serviceProvider=None
    )
    outpatient = b.make_emergency_admission(
        **{"class": {"system": b.ACT_CODE, "code": "AMB"}}, serviceProvider=None
    )
    emergency = b.make_emergency_admission(**{"class": {"system": b.ACT_CODE, "code": "EMER"}})
    assert profile_set.applicable_profiles(elective) == []
    assert profile_set.applicable_profiles(outpatient) == []
    assert profile_set.validate(outpatient) == []
    assert profile_set.applicable_profiles(emergency) == [ADMISSION]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"period": {"end": "2026-09-01"}}, ("required", "Encounter.period.start")),
        ({"serviceProvider": None}, ("required", "Encounter.serviceProvider")),
        ({"serviceProvider": {"display": "Riverside General"}}, ("invariant", "Encounter")),
        (
            {"serviceProvider": {"identifier": {"system": "urn:x", "value": "1"}}},
            ("invariant", "Encounter"),
        ),
    ],
)
def test_an_emergency_admission_has_a_start_and_an_identified_hospital(
    profile_set: ProfileSet, overrides: dict[str, object], expected: tuple[str, str]
) -> None:
    errors = _errors(profile_set, b.make_emergency_admission(**overrides))
    assert expected in errors, errors


def test_a_claimed_admission_must_be_an_emergency_inpatient_stay(
    profile_set: ProfileSet,
) -> None:
    claimed = b.make_emergency_admission_full(
        **{"class": {"system": b.ACT_CODE, "code": "AMB"}},
        priority={"coding": [{"system": b.ACT_PRIORITY, "code": "EL"}]},
    )
    errors = _errors(profile_set, claimed)
    assert ("code-invalid", "Encounter.class") in errors
    assert any(c == "code-invalid" and w.startswith("Encounter.priority") for c, w in errors)


@pytest.mark.parametrize("death", [{"deceasedDateTime": "2026-11-02T04:10:00Z"},
                                   {"deceasedDateTime": "2026-11-02"},
                                   {"deceasedBoolean": True}])
def test_an_eolc_patient_may_record_a_death(profile_set: ProfileSet,
                                            death: dict[str, object]) -> None:
    assert b.profile_url("EolcPatient") in b.make_patient()["meta"]["profile"]
    assert _errors(profile_set, b.make_patient(**death)) == set()
    assert _errors(profile_set, b.make_patient_full(**death)) == set()
