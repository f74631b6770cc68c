"""Every conformance resource in profiles/ is a valid resource of its type, named and described."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.fhir.models import model_class
from eolc_fhir.validation import ProfileSet
from tests.unit.validation.conftest import PROFILES_DIR

BASE = "https://eolc.example.org/fhir"
OURS = sorted(
    p
    for prefix in ("StructureDefinition-", "CodeSystem-", "ValueSet-")
    for p in PROFILES_DIR.glob(f"{prefix}*.json")
)
DOMAIN_PROFILES = {
    "EolcPatient": "Patient",
    "EolcRegisterEntry": "Flag",
    "EolcCPRDecision": "Flag",
    "EolcAdvanceCarePlan": "CarePlan",
    "EolcPreferredPlace": "Observation",
    "EolcADRT": "Consent",
    "EolcLastingPowerOfAttorney": "RelatedPerson",
    "EolcReSPECTForm": "DocumentReference",
    "EolcConsentToShare": "Consent",
    "EolcCoordinatedCareEpisode": "EpisodeOfCare",
    "EolcPlaceOfDeath": "Observation",
    "EolcEmergencyAdmission": "Encounter",
}
EXTENSIONS = {
    "eolc-prognosis": "valueCodeableConcept",
    "eolc-review-date": "date",
    "eolc-preference-rank": "positiveInt",
    "eolc-respect-care-priority": "integer",
    "eolc-lpa-life-sustaining-authority": "boolean",
    "eolc-decision-document": "Reference",
}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_conformance_resources() -> None:
    assert len(OURS) >= 30


@pytest.mark.parametrize("path", OURS, ids=lambda p: p.name)
def test_file_is_a_valid_resource_of_its_type(path: Path) -> None:
    resource = _load(path)
    model_class(resource["resourceType"]).model_validate(resource)
    assert path.name == f"{resource['resourceType']}-{resource['id']}.json"
    assert resource["url"] == f"{BASE}/{resource['resourceType']}/{resource['id']}"
    assert resource["name"].isidentifier() and resource["name"][0].isupper()
    assert len(resource["description"]) > 30
    assert resource["status"] == "active"
    assert resource["version"]


@pytest.mark.parametrize("name", sorted(DOMAIN_PROFILES))
def test_every_domain_profile_is_a_constraint_on_its_base(name: str) -> None:
    sd = _load(PROFILES_DIR / f"StructureDefinition-{name}.json")
    base_type = DOMAIN_PROFILES[name]
    assert sd["name"] == name
    assert (sd["type"], sd["kind"], sd["abstract"]) == (base_type, "resource", False)
    assert sd["baseDefinition"] == f"http://hl7.org/fhir/StructureDefinition/{base_type}"
    assert (sd["derivation"], sd["fhirVersion"]) == ("constraint", "4.0.1")
    assert sd["title"] and sd["purpose"]
    ids = [e["id"] for e in sd["differential"]["element"]]
    assert ids[0] == base_type and len(ids) == len(set(ids)) > 1
    assert "snapshot" not in sd


@pytest.mark.parametrize("name", sorted(EXTENSIONS))
def test_every_extension_definition_fixes_its_url_and_value_type(name: str) -> None:
    sd = _load(PROFILES_DIR / f"StructureDefinition-{name}.json")
    elements = {e["id"]: e for e in sd["differential"]["element"]}
    assert sd["type"] == "Extension" and sd["context"]
    assert elements["Extension.url"]["fixedUri"] == sd["url"]
    value = elements["Extension.value[x]"]
    assert value["min"] == 1
    assert [t["code"] for t in value["type"]] == [EXTENSIONS[name].removeprefix("value")]


def test_profile_set_publishes_everything_it_loaded(profile_set: ProfileSet) -> None:
    published = {(r["resourceType"], r["url"]) for r in profile_set.conformance_resources()}
    on_disk = {(r["resourceType"], r["url"]) for r in map(_load, OURS)}
    assert on_disk <= published
    expected = {f"{BASE}/StructureDefinition/{n}" for n in DOMAIN_PROFILES}
    assert set(profile_set.profile_urls) == expected
    assert profile_set.profiles_for_type("Flag") == [
        f"{BASE}/StructureDefinition/EolcCPRDecision",
        f"{BASE}/StructureDefinition/EolcRegisterEntry",
    ]


def test_code_systems_hold_the_domain_codes(profile_set: ProfileSet) -> None:
    places = {c.code for c in profile_set.terminology.concepts(f"{BASE}/ValueSet/eolc-place-type")}
    assert places == {"10", "21", "22", "30", "41", "42", "50"}
    concepts = {c.code for c in profile_set.terminology.concepts(f"{BASE}/ValueSet/eolc-concepts")}
    assert concepts == {
        "preferred-place-of-death",
        "preferred-place-of-care",
        "actual-place-of-death",
        "lpa-health-and-welfare",
        "respect-care-priority",
        "end-of-life-emergency-summary",
    }


def test_loading_compiles_quickly_enough_to_do_at_start() -> None:
    # Not a timing assertion (the bench measures that): loading twice gives equal results.
    first, second = ProfileSet.load(PROFILES_DIR), ProfileSet.load(PROFILES_DIR)
    assert first.profile_urls == second.profile_urls
