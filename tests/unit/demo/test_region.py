"""The synthetic region: valid NHS numbers, determinism, a realistic mix, every resource valid."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import pytest

from eolc_fhir.config import Settings
from eolc_fhir.demo.loader import validate
from eolc_fhir.demo.people import NhsNumbers, person_resources
from eolc_fhir.demo.region import build_region
from eolc_fhir.fhir.nhs_number import check_digit, is_valid_nhs_number
from eolc_fhir.validation import ProfileSet

TODAY = date(2026, 11, 30)


def _people(seed: int, count: int) -> list[list[dict[str, Any]]]:
    region = build_region(seed, count)
    numbers = NhsNumbers(seed)
    return [person_resources(region, i, TODAY, numbers.for_person(i)) for i in range(count)]


@pytest.mark.parametrize("number", ["9912003888", "9658220142", "9999999468", "9000000009"])
def test_published_valid_numbers_pass(number: str) -> None:
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize("number", ["9912003814", "4123456879", "6101231234", "999999946",
                                    "99999994680", "999999946a", "９９９９９９９４６８"])
def test_invalid_numbers_fail(number: str) -> None:
    assert not is_valid_nhs_number(number)


def test_check_digit_ten_means_no_number() -> None:
    # 1*10 + 0*9 + ... + 1*2 = 12; 12 mod 11 = 1; 11 - 1 = 10: no valid check digit.
    assert check_digit("100000001") is None


def test_same_seed_same_region_and_people() -> None:
    assert build_region(7, 100).resources() == build_region(7, 100).resources()
    assert _people(7, 20) == _people(7, 20)


def test_another_seed_another_region() -> None:
    first, second = _people(7, 5), _people(8, 5)
    assert first[0][0]["id"] != second[0][0]["id"]
    assert first[0][0]["identifier"] != second[0][0]["identifier"]


def test_a_person_does_not_depend_on_the_region_size() -> None:
    small, large = _people(3, 5), _people(3, 50)
    assert small == large[:5]


def test_nhs_numbers_are_valid_and_unique() -> None:
    numbers = [p[0]["identifier"][0]["value"] for p in _people(11, 2000)]
    assert len(set(numbers)) == len(numbers)
    assert all(is_valid_nhs_number(n) for n in numbers)


def test_the_mix_mirrors_the_register() -> None:
    """Among the living: everyone on the register with a consent record, and the rest."""
    people = [p for p in _people(5, 600) if "deceasedDateTime" not in p[0]]
    living = len(people)
    kinds: Counter[str] = Counter()
    for resources in people:
        kinds.update({_kind(r) for r in resources})
    assert 350 < living < 450
    assert kinds["register"] == kinds["consent"] + kinds["withdrawn"] == living
    assert 0.4 < kinds["acp"] / living < 0.6
    assert 0.5 < kinds["cpr"] / living < 0.9
    assert 0 < kinds["cpr-overdue"] < kinds["cpr"] / 3
    assert 0 < kinds["withdrawn"] < 40
    for kind in ("respect", "lpa", "adrt", "ppd", "episode", "medicines"):
        assert kinds[kind] > 0, kind
    statuses = {r["status"] for p in people for r in p if r["resourceType"] == "EpisodeOfCare"}
    assert statuses == {"active", "onhold", "planned", "finished"}


def _kind(resource: dict[str, Any]) -> str:
    rtype, code = resource["resourceType"], _code(resource)
    if rtype == "Flag" and code in ("450475007", "450476008"):
        return "cpr-overdue" if resource["period"]["end"] < TODAY.isoformat() else "cpr"
    return {
        ("Flag", "526631000000108"): "register", ("Flag", "1403151000000103"): "register",
        ("Flag", "414937009"): "register", ("CarePlan", None): "acp",
        ("Consent", "882921000000109"): "consent", ("Consent", "882941000000102"): "withdrawn",
        ("DocumentReference", "1382601000000107"): "respect",
        ("RelatedPerson", "lpa-health-and-welfare"): "lpa",
        ("Observation", "preferred-place-of-death"): "ppd",
        ("EpisodeOfCare", None): "episode", ("MedicationRequest", None): "medicines",
    }.get((rtype, code), "adrt" if rtype == "Consent" else rtype)


def _code(resource: dict[str, Any]) -> str | None:
    for key in ("code", "type"):
        if isinstance(resource.get(key), dict):
            return str(resource[key]["coding"][0]["code"])
    for key in ("category", "relationship"):
        if resource.get(key) and resource["resourceType"] in ("Consent", "RelatedPerson"):
            return str(resource[key][0]["coding"][0]["code"])
    return None


def test_withdrawn_consents_count_as_withdrawn_in_the_mix() -> None:
    people = _people(5, 600)
    withdrawn = [r for p in people for r in p if _kind(r) == "withdrawn"]
    assert all(r["provision"]["type"] == "deny" for r in withdrawn)


def test_everyone_is_an_adult_with_a_gp_practice() -> None:
    for resources in _people(9, 300):
        patient = resources[0]
        assert patient["birthDate"] <= f"{TODAY.year - 18}-{TODAY:%m-%d}"
        assert patient["generalPractitioner"][0]["reference"].startswith("Organization/")


def test_every_demo_resource_passes_validation() -> None:
    profiles = ProfileSet.load(Settings().profiles_dir)
    region = build_region(13, 250)
    resources = region.resources() + [r for p in _people(13, 250) for r in p]
    for resource in resources:
        validate(resource, profiles)  # raises on any error
    assert len(resources) > 2000


def test_region_has_the_organisations_a_region_needs() -> None:
    region = build_region(1, 2000)
    ods = [o["identifier"][0]["value"] for o in region.resources()
           if o["resourceType"] == "Organization"]
    assert len(ods) == len(set(ods)) >= 4 + 3
    assert region.coordination_centre["telecom"][0]["value"]
    assert all(p.resource["identifier"][0]["system"] == "https://fhir.nhs.uk/Id/sds-user-id"
               for p in region.nurses)
