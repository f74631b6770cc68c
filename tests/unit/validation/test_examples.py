"""Minimal and full examples of every profile are valid, at base and profile stage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import tests.builders as b
from eolc_fhir.fhir.models import model_class
from eolc_fhir.validation import ProfileSet
from tests.builders import BUILDERS, profile_url

CASES = [
    (name, variant, builder)
    for name, pair in BUILDERS.items()
    for variant, builder in zip(("minimal", "full"), pair, strict=True)
]


@pytest.mark.parametrize(
    ("name", "variant", "builder"), CASES, ids=[f"{n}-{v}" for n, v, _ in CASES]
)
def test_example_is_valid_and_meets_its_profile(
    profile_set: ProfileSet, name: str, variant: str, builder: Callable[..., dict[str, Any]]
) -> None:
    resource = builder()
    model_class(resource["resourceType"]).model_validate(resource)
    assert profile_url(name) in profile_set.applicable_profiles(resource)
    assert profile_set.validate(resource) == []


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_full_example_claims_its_profile_and_minimal_does_not_need_to(name: str) -> None:
    minimal, full = BUILDERS[name]
    assert full()["meta"]["profile"] == [profile_url(name)]
    if name != "EolcPatient":  # the patient profile applies only when claimed
        assert "meta" not in minimal()


def test_patient_profile_applies_only_when_claimed(profile_set: ProfileSet) -> None:
    unclaimed = b.make_patient(meta=None, identifier=None)
    assert profile_set.applicable_profiles(unclaimed) == []
    assert profile_set.validate(unclaimed) == []


@pytest.mark.parametrize(
    ("builder", "expected"),
    [
        ("make_register_flag", "EolcRegisterEntry"),
        ("make_cpr_flag", "EolcCPRDecision"),
        ("make_care_plan", "EolcAdvanceCarePlan"),
        ("make_preferred_place", "EolcPreferredPlace"),
        ("make_adrt", "EolcADRT"),
        ("make_consent_to_share", "EolcConsentToShare"),
        ("make_lpa", "EolcLastingPowerOfAttorney"),
        ("make_respect_form", "EolcReSPECTForm"),
        ("make_episode", "EolcCoordinatedCareEpisode"),
        ("make_place_of_death", "EolcPlaceOfDeath"),
        ("make_emergency_admission", "EolcEmergencyAdmission"),
    ],
)
def test_automatic_profile_by_content(profile_set: ProfileSet, builder: str, expected: str) -> None:
    assert profile_set.applicable_profiles(getattr(b, builder)()) == [profile_url(expected)]


def test_resources_outside_the_domain_get_no_profile(profile_set: ProfileSet) -> None:
    other_flag = b.make_register_flag(
        code={"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}
    )
    other_plan = b.make_care_plan(category=[{"text": "Diabetes plan"}], extension=None)
    assert profile_set.applicable_profiles(other_flag) == []
    assert profile_set.applicable_profiles(other_plan) == []
    assert profile_set.validate(other_plan) == []
