"""The demo region (`eolc-fhir demo`) meets every profile that applies to it."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date

from eolc_fhir.demo.people import nhs_number, person_resources
from eolc_fhir.demo.region import build_region
from eolc_fhir.validation import ProfileSet


def test_demo_people_meet_their_profiles(profile_set: ProfileSet) -> None:
    region = build_region(1, 60)
    rng = random.Random(1)
    applied: Counter[str] = Counter()
    for index in range(60):
        for resource in person_resources(region, index, date.today(), nhs_number(rng)):
            applied.update(u.rsplit("/", 1)[1] for u in profile_set.applicable_profiles(resource))
            assert profile_set.validate(resource) == [], resource
    # every profile is exercised by the demo data
    assert {name for name, count in applied.items() if count} >= {
        "EolcPatient",
        "EolcRegisterEntry",
        "EolcCPRDecision",
        "EolcAdvanceCarePlan",
        "EolcPreferredPlace",
        "EolcConsentToShare",
        "EolcCoordinatedCareEpisode",
        "EolcPlaceOfDeath",
        "EolcEmergencyAdmission",
    }
