"""The registry: standard parameters, our SearchParameter resources, extraction, capability."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from eolc_fhir.config import DEFAULT_PROFILES_DIR
from eolc_fhir.fhir.models import model_class
from eolc_fhir.search import SearchRegistry
from eolc_fhir.search.matcher import matches
from tests.builders import make_care_plan, make_patient_full, make_register_flag_full

REGISTRY = SearchRegistry.load(DEFAULT_PROFILES_DIR)
ISSUE_TYPES = ["Patient", "Practitioner", "PractitionerRole", "Organization", "RelatedPerson",
               "CarePlan", "CareTeam", "Flag", "EpisodeOfCare", "Consent", "Observation",
               "Condition", "Goal", "DocumentReference", "Encounter", "QuestionnaireResponse",
               "Provenance", "AuditEvent", "Subscription"]


@pytest.mark.parametrize("path", sorted(DEFAULT_PROFILES_DIR.glob("SearchParameter-*.json")))
def test_our_search_parameters_are_valid_r4(path: Path) -> None:
    doc = orjson.loads(path.read_bytes())
    model_class("SearchParameter").model_validate(doc)
    assert doc["url"] == f"https://eolc.example.org/fhir/SearchParameter/{path.stem[16:]}"
    param = REGISTRY.get(doc["base"][0], doc["code"])
    assert param is not None and param.url == doc["url"]


def test_every_issue_type_has_parameters_and_the_common_ones() -> None:
    for rtype in ISSUE_TYPES:
        codes = {p.code for p in REGISTRY.params_for(rtype)}
        assert {"_id", "_lastUpdated", "_tag", "_profile", "_security"} <= codes, rtype
        assert len(codes) > 6, rtype
    assert {"code", "status", "category", "patient", "author"} <= {
        p.code for p in REGISTRY.params_for("Flag")}


def test_extract_indexes_what_searches_need() -> None:
    rows = REGISTRY.extract(make_patient_full(id="p"))
    tokens = {(r.param, r.system, r.code) for r in rows.tokens}
    assert ("identifier", "https://fhir.nhs.uk/Id/nhs-number", "9658220142") in tokens
    assert ("general-practitioner:identifier", "https://fhir.nhs.uk/Id/ods-organization-code",
            "Y01234") in tokens
    assert ("_profile", ) not in tokens
    assert {r.value for r in rows.uris if r.param == "_profile"}
    strings = {(r.param, r.value_norm) for r in rows.strings}
    assert {("family", "hughes"), ("given", "ann"), ("address-city", "riverside")} <= strings
    flag = REGISTRY.extract(make_register_flag_full(id="f"))
    assert {(r.param, r.target_type) for r in flag.references} >= {
        ("patient", "Patient"), ("subject", "Patient"), ("author", "Organization")}
    assert any(r.param == "date" for r in flag.dates)
    plan = REGISTRY.extract(make_care_plan(id="c"))
    assert any(r.param == "author" for r in plan.references)


def test_capability_params() -> None:
    params = REGISTRY.capability_params("Flag")
    by_name = {p["name"]: p for p in params}
    assert by_name["code"]["definition"] == "https://eolc.example.org/fhir/SearchParameter/Flag-code"
    assert by_name["patient"] == {"name": "patient", "type": "reference",
                                  "definition": "http://hl7.org/fhir/SearchParameter/Flag-patient"}
    assert by_name["_id"]["type"] == "token"


def test_matches_for_subscription_filters() -> None:
    flag = make_register_flag_full(id="f", status="active")
    assert matches(REGISTRY, flag, "Flag", [("patient", "Patient/eolc-patient-1")])
    assert not matches(REGISTRY, flag, "Flag", [("patient", "Patient/other")])
    assert matches(REGISTRY, flag, "Flag", [("code", "http://snomed.info/sct|526631000000108"),
                                            ("status", "active")])
    assert not matches(REGISTRY, flag, "CarePlan", [("status", "active")])


def test_capability_includes() -> None:
    assert "Flag:patient" in REGISTRY.capability_includes("Flag")
    assert "Flag:status" not in REGISTRY.capability_includes("Flag")
    revs = REGISTRY.capability_revincludes("Patient")
    assert {"Flag:patient", "CarePlan:subject", "Provenance:target"} <= set(revs)
    assert "Patient:organization" not in revs  # points at Organization only
