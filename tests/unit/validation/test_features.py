"""Engine features on small synthetic profiles: each rule kind the compiler supports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tests.builders as b
from eolc_fhir.validation import InvariantCompileError, ProfileCompileError, ProfileSet
from eolc_fhir.validation.element_ids import element_ids
from tests.unit.validation.conftest import PROFILES_DIR

T = "https://test.example.org/fhir/"
SCT = "http://snomed.info/sct"


def _vs(name: str, *codes: tuple[str, str]) -> dict[str, Any]:
    include = [{"system": s, "concept": [{"code": c}]} for s, c in codes]
    return {
        "resourceType": "ValueSet",
        "url": T + "ValueSet/" + name,
        "status": "active",
        "compose": {"include": include},
    }


def _sd(name: str, type_: str, *elements: dict[str, Any], kind: str = "resource") -> dict[str, Any]:
    differential = [{"id": type_, "path": type_}] + [
        {"path": ".".join(p.split(":")[0] for p in e["id"].split(".")), **e} for e in elements
    ]
    return {
        "resourceType": "StructureDefinition",
        "url": T + "StructureDefinition/" + name,
        "name": name,
        "status": "active",
        "kind": kind,
        "abstract": False,
        "type": type_,
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/" + type_,
        "derivation": "constraint",
        "differential": {"element": differential},
    }


def _claim(resource: dict[str, Any], name: str) -> dict[str, Any]:
    resource["meta"] = {"profile": [T + "StructureDefinition/" + name]}
    return resource


def _issues(ps: ProfileSet, resource: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(i.severity, i.code, i.expression[0]) for i in ps.validate(resource)]


def _flag(**overrides: Any) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "status": "active",
        "code": {"coding": [{"system": SCT, "code": "1"}]},
        "subject": {"reference": "Patient/p"},
        **overrides,
    }


def test_closed_slicing_rejects_an_item_that_matches_no_slice() -> None:
    sd = _sd(
        "Closed",
        "Patient",
        {
            "id": "Patient.identifier",
            "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "closed"},
        },
        {"id": "Patient.identifier:nhs", "min": 0, "max": "1"},
        {"id": "Patient.identifier:nhs.system", "fixedUri": "https://fhir.nhs.uk/Id/nhs-number"},
    )
    ps = ProfileSet([sd])
    patient = _claim(
        {
            "resourceType": "Patient",
            "identifier": [
                {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"},
                {"system": "https://example.org/mrn", "value": "1"},
            ],
        },
        "Closed",
    )
    assert _issues(ps, patient) == [("error", "structure", "Patient.identifier[1]")]
    patient["identifier"].pop()
    assert _issues(ps, patient) == []


def test_open_slicing_allows_other_items() -> None:
    sd = _sd(
        "Open",
        "Patient",
        {
            "id": "Patient.identifier",
            "slicing": {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        },
        {"id": "Patient.identifier:nhs", "min": 1, "max": "1"},
        {"id": "Patient.identifier:nhs.system", "fixedUri": "https://fhir.nhs.uk/Id/nhs-number"},
    )
    patient = _claim(
        {
            "resourceType": "Patient",
            "identifier": [
                {"system": "https://example.org/mrn", "value": "1"},
                {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"},
            ],
        },
        "Open",
    )
    assert _issues(ProfileSet([sd]), patient) == []


def test_identifier_pattern() -> None:
    sd = _sd(
        "IdPattern",
        "Patient",
        {
            "id": "Patient.identifier",
            "patternIdentifier": {"system": "https://fhir.nhs.uk/Id/nhs-number"},
        },
    )
    ps = ProfileSet([sd])
    good = _claim(
        {
            "resourceType": "Patient",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "1"}],
        },
        "IdPattern",
    )
    bad = _claim(
        {"resourceType": "Patient", "identifier": [{"system": "https://x.org", "value": "1"}]},
        "IdPattern",
    )
    assert _issues(ps, good) == []
    assert _issues(ps, bad) == [("error", "value", "Patient.identifier[0]")]


def test_codeable_concept_pattern_allows_more_and_fixed_does_not() -> None:
    coding = {"system": SCT, "code": "1"}
    pattern = _sd(
        "Pat", "Flag", {"id": "Flag.code", "patternCodeableConcept": {"coding": [coding]}}
    )
    fixed = _sd("Fix", "Flag", {"id": "Flag.code", "fixedCodeableConcept": {"coding": [coding]}})
    ps = ProfileSet([pattern, fixed])
    richer = {"coding": [{"system": "x", "code": "y"}, {**coding, "display": "One"}], "text": "one"}
    assert _issues(ps, _claim(_flag(code=richer), "Pat")) == []
    assert _issues(ps, _claim(_flag(code=richer), "Fix")) == [("error", "value", "Flag.code")]
    assert _issues(ps, _claim(_flag(code={"coding": [coding]}), "Fix")) == []
    other = {"coding": [{"system": SCT, "code": "2"}]}
    assert _issues(ps, _claim(_flag(code=other), "Pat")) == [("error", "value", "Flag.code")]


@pytest.mark.parametrize(
    ("strength", "expected"),
    [
        ("required", [("error", "code-invalid", "Flag.code")]),
        ("extensible", [("warning", "code-invalid", "Flag.code")]),
        ("preferred", [("warning", "code-invalid", "Flag.code")]),
        ("example", []),
    ],
)
def test_binding_strengths(strength: str, expected: list[tuple[str, str, str]]) -> None:
    sd = _sd(
        "Bound",
        "Flag",
        {"id": "Flag.code", "binding": {"strength": strength, "valueSet": T + "ValueSet/one"}},
    )
    ps = ProfileSet([sd, _vs("one", (SCT, "1"))])
    assert _issues(ps, _claim(_flag(), "Bound")) == []
    assert (
        _issues(ps, _claim(_flag(code={"coding": [{"system": SCT, "code": "2"}]}), "Bound"))
        == expected
    )


def test_required_binding_on_a_code_a_coding_and_text_only() -> None:
    sd = _sd(
        "Codes",
        "Flag",
        {
            "id": "Flag.status",
            "binding": {"strength": "required", "valueSet": T + "ValueSet/active"},
        },
        {
            "id": "Flag.meta.tag",
            "binding": {"strength": "required", "valueSet": T + "ValueSet/tags"},
        },
        {"id": "Flag.code", "binding": {"strength": "required", "valueSet": T + "ValueSet/tags"}},
    )
    ps = ProfileSet(
        [sd, _vs("active", ("http://hl7.org/fhir/flag-status", "active")), _vs("tags", (T, "t"))]
    )
    flag = _flag(
        code={"coding": [{"system": T, "code": "t"}]},
        meta={"profile": [T + "StructureDefinition/Codes"], "tag": [{"system": T, "code": "t"}]},
    )
    assert _issues(ps, flag) == []
    flag["status"] = "inactive"
    flag["meta"]["tag"].append({"system": T, "code": "u"})
    flag["code"] = {"text": "free text only"}
    assert _issues(ps, flag) == [
        ("error", "code-invalid", "Flag.status"),
        ("error", "code-invalid", "Flag.meta.tag[1]"),
        ("error", "code-invalid", "Flag.code"),
    ]


def test_max_zero_and_primitive_with_only_extensions() -> None:
    sd = _sd(
        "NoPeriod", "Flag", {"id": "Flag.period", "max": "0"}, {"id": "Flag.encounter", "min": 1}
    )
    ps = ProfileSet([sd])
    flag = _claim(_flag(period={"start": "2026-01-01"}), "NoPeriod")
    assert _issues(ps, flag) == [
        ("error", "structure", "Flag.period"),
        ("error", "required", "Flag.encounter"),
    ]
    patient_sd = _sd("Born", "Patient", {"id": "Patient.birthDate", "min": 1})
    absent = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "unknown",
            }
        ]
    }
    patient = _claim({"resourceType": "Patient", "_birthDate": absent}, "Born")
    assert _issues(ProfileSet([patient_sd]), patient) == []


def test_cardinality_inside_repeating_backbone_and_choice() -> None:
    sd = _sd(
        "Acts",
        "CarePlan",
        {"id": "CarePlan.activity.detail.scheduled[x]", "min": 1, "type": [{"code": "Period"}]},
        {"id": "CarePlan.activity.detail.performer", "max": "1"},
    )
    ps = ProfileSet([sd])
    plan = _claim(
        {
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "subject": {"reference": "Patient/p"},
            "activity": [
                {"detail": {"status": "scheduled", "scheduledPeriod": {"start": "2026-01-01"}}},
                {
                    "detail": {
                        "status": "scheduled",
                        "scheduledString": "weekly",
                        "performer": [
                            {"reference": "Practitioner/a"},
                            {"reference": "Practitioner/b"},
                        ],
                    }
                },
                {"detail": {"status": "scheduled"}},
                {"reference": {"reference": "ServiceRequest/s"}},
            ],
        },
        "Acts",
    )
    assert _issues(ps, plan) == [
        ("error", "structure", "CarePlan.activity[1].detail.scheduled.ofType(string)"),
        ("error", "structure", "CarePlan.activity[1].detail.performer"),
        ("error", "required", "CarePlan.activity[2].detail.scheduled"),
    ]


def test_extension_definition_applies_its_own_rules() -> None:
    ext = _sd(
        "ext-score",
        "Extension",
        {"id": "Extension.extension", "max": "0"},
        {"id": "Extension.url", "fixedUri": T + "StructureDefinition/ext-score"},
        {"id": "Extension.value[x]", "min": 1, "type": [{"code": "integer"}]},
        kind="complex-type",
    )
    sd = _sd(
        "Scored",
        "Flag",
        {
            "id": "Flag.extension",
            "slicing": {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"},
        },
        {
            "id": "Flag.extension:score",
            "min": 1,
            "max": "1",
            "type": [{"code": "Extension", "profile": [T + "StructureDefinition/ext-score"]}],
        },
    )
    ps = ProfileSet([ext, sd])
    url = T + "StructureDefinition/ext-score"
    flag = _claim(
        _flag(
            extension=[
                {"url": "https://other.org/x", "valueString": "ignored"},
                {"url": url, "valueInteger": 3},
            ]
        ),
        "Scored",
    )
    assert _issues(ps, flag) == []
    flag["extension"][1] = {
        "url": url,
        "valueInteger": 3,
        "extension": [{"url": "nested", "valueString": "no"}],
    }
    assert _issues(ps, flag) == [("error", "structure", "Flag.extension[1].extension")]
    flag["extension"] = []
    assert _issues(ps, flag) == [("error", "required", f"Flag.extension('{url}')")]


def test_reference_targets_in_every_literal_form(profile_set: ProfileSet) -> None:
    def with_subject(ref: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return b.make_register_flag(subject=ref, **extra)

    ok = [
        {"reference": "Patient/1"},
        {"reference": "https://fhir.example.org/fhir/Patient/1/_history/3"},
        {"reference": "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009"},
        {"reference": "urn:uuid:6b3c8d0e-2a5b-4f55-8a53-3f1e0f4d1a11"},  # type unknown: allowed
        {"reference": "urn:uuid:6b3c8d0e-2a5b-4f55-8a53-3f1e0f4d1a11", "type": "Patient"},
        {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"}},
    ]
    for ref in ok:
        assert profile_set.validate(with_subject(ref)) == [], ref
    bad = [
        {"reference": "Group/1"},
        {"reference": "https://fhir.example.org/fhir/Group/1/_history/3"},
        {"reference": "Group?name=x"},
        {"reference": "urn:uuid:6b3c8d0e-2a5b-4f55-8a53-3f1e0f4d1a11", "type": "Group"},
        {"identifier": {"value": "x"}, "type": "Group"},
    ]
    for ref in bad:
        assert [i.code for i in profile_set.validate(with_subject(ref))] == ["structure"], ref
    contained = with_subject(
        {"reference": "#g"},
        contained=[{"resourceType": "Group", "id": "g", "type": "person", "actual": True}],
    )
    assert [i.expression for i in profile_set.validate(contained)] == [("Flag.subject",)]


def test_target_profile_may_name_one_of_our_profiles() -> None:
    patient = _sd("P", "Patient")
    flag_sd = _sd(
        "F",
        "Flag",
        {
            "id": "Flag.subject",
            "type": [{"code": "Reference", "targetProfile": [T + "StructureDefinition/P"]}],
        },
    )
    ps = ProfileSet([patient, flag_sd])
    assert _issues(ps, _claim(_flag(), "F")) == []
    assert _issues(ps, _claim(_flag(subject={"reference": "Group/g"}), "F")) == [
        ("error", "structure", "Flag.subject")
    ]


def test_claims_extra_profiles_and_profile_type_mismatch(profile_set: ProfileSet) -> None:
    cpr = b.profile_url("EolcCPRDecision")
    patient = b.make_patient(meta=None)
    assert profile_set.validate(patient) == []
    assert [
        i.code for i in profile_set.validate(patient, extra_profiles=[b.profile_url("EolcPatient")])
    ] == []
    broken = b.make_patient(meta=None, birthDate=None)
    assert [
        i.expression
        for i in profile_set.validate(broken, extra_profiles=[b.profile_url("EolcPatient")])
    ] == [("Patient.birthDate",)]
    assert [
        i.code for i in profile_set.validate(patient, extra_profiles=["https://x.org/Unknown"])
    ] == ["not-supported"]
    mismatch = profile_set.validate(b.make_patient(meta={"profile": [cpr]}))
    assert [(i.code, i.expression) for i in mismatch] == [("structure", ("Patient",))]


def test_base_and_implemented_external_profiles_may_be_claimed(profile_set: ProfileSet) -> None:
    patient = b.make_patient(meta={"profile": ["http://hl7.org/fhir/StructureDefinition/Patient"]})
    assert profile_set.validate(patient) == []
    subscription = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "r",
        "criteria": "x",
        "channel": {"type": "rest-hook"},
        "meta": {
            "profile": [
                "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-subscription"
            ]
        },
    }
    assert profile_set.validate(subscription) == []
    versioned = b.make_cpr_flag(meta={"profile": [b.profile_url("EolcCPRDecision") + "|0.1.0"]})
    assert profile_set.applicable_profiles(versioned) == [b.profile_url("EolcCPRDecision")]


def test_claimed_and_automatic_profiles_both_apply(profile_set: ProfileSet) -> None:
    flag = b.make_register_flag(meta={"profile": [b.profile_url("EolcCPRDecision")]})
    assert profile_set.applicable_profiles(flag) == [
        b.profile_url("EolcCPRDecision"),
        b.profile_url("EolcRegisterEntry"),
    ]
    codes = {(i.code, i.expression[0]) for i in profile_set.validate(flag)}
    assert ("code-invalid", "Flag.code") in codes  # a register code is not a CPR decision
    assert ("required", "Flag.period.end") in codes


@pytest.mark.parametrize(
    ("element", "error"),
    [
        (
            {
                "id": "Flag.subject",
                "type": [{"code": "Reference", "targetProfile": [T + "StructureDefinition/nope"]}],
            },
            "unknown targetProfile",
        ),
        (
            {
                "id": "Flag.extension:x",
                "type": [{"code": "Extension", "profile": [T + "StructureDefinition/nope"]}],
            },
            "unknown extension",
        ),
        ({"id": "Patient.name", "min": 1}, "is not under Flag"),
    ],
)
def test_compile_errors_stop_the_load(element: dict[str, Any], error: str) -> None:
    with pytest.raises(ProfileCompileError, match=error):
        ProfileSet([_sd("Bad", "Flag", element)])


def test_unknown_discriminator_types_stop_the_load() -> None:
    unknown = _sd(
        "T",
        "Flag",
        {
            "id": "Flag.extension",
            "slicing": {"discriminator": [{"type": "position", "path": "url"}], "rules": "open"},
        },
        {"id": "Flag.extension:a", "min": 0},
    )
    with pytest.raises(ProfileCompileError, match="discriminator type position"):
        ProfileSet([unknown])


@pytest.mark.parametrize(
    "expression", ["status = ", "descendants().ofType(BackboneElement).exists()"]
)
def test_bad_or_untrusted_invariants_stop_the_load(expression: str) -> None:
    sd = _sd(
        "I",
        "Flag",
        {
            "id": "Flag",
            "constraint": [
                {"key": "i-1", "severity": "error", "human": "h", "expression": expression}
            ],
        },
    )
    sd["differential"]["element"].pop(0)  # keep one root element, the one with the constraint
    with pytest.raises(InvariantCompileError):
        ProfileSet([sd])


def test_an_invariant_that_fails_to_evaluate_is_reported_not_raised() -> None:
    sd = _sd(
        "Boom",
        "Flag",
        {
            "id": "Flag.period",
            "constraint": [
                {
                    "key": "boom-1",
                    "severity": "error",
                    "human": "h",
                    "expression": "start.toDateTime() + 1 'kg' > end",
                }
            ],
        },
    )
    issues = ProfileSet([sd]).validate(
        _claim(_flag(period={"start": "2026-01-01", "end": "2026-02-01"}), "Boom")
    )
    assert [(i.code, i.expression) for i in issues] == [("invariant", ("Flag.period",))]
    assert "could not be evaluated" in issues[0].diagnostics


def test_the_real_folder_loads_from_disk_equal_to_loading_the_resources() -> None:
    resources = [json.loads(p.read_text()) for p in sorted(PROFILES_DIR.glob("*.json"))]
    assert ProfileSet(resources).profile_urls == ProfileSet.load(PROFILES_DIR).profile_urls


def test_a_profile_that_cannot_compile_names_its_file_and_element(tmp_path: Path) -> None:
    no_strength = _sd("NoStrength", "Flag", {"id": "Flag.code", "binding": {"valueSet": "x"}})
    (tmp_path / "StructureDefinition-NoStrength.json").write_text(json.dumps(no_strength))
    with pytest.raises(ProfileCompileError) as raised:
        ProfileSet.load(tmp_path)
    message = str(raised.value)
    assert "StructureDefinition-NoStrength.json" in message and "Flag.code" in message
    pathless = _sd("NoPath", "Flag")
    pathless["differential"]["element"].append({"min": 1})
    with pytest.raises(ProfileCompileError, match="element 1 has no path"):
        ProfileSet([pathless])


def test_element_ids_are_derived_from_path_and_slice_name() -> None:
    elements = [
        {"path": "Patient"},
        {"path": "Patient.identifier", "slicing": {}},
        {"path": "Patient.identifier", "sliceName": "nhs"},
        {"path": "Patient.identifier.system"},
        {"path": "Patient.identifier", "sliceName": "mrn"},
        {"path": "Patient.identifier.value"},
        {"path": "Patient.name"},
        {"id": "Patient.name.family", "path": "Patient.name.family"},
    ]
    assert element_ids(elements, "u") == [
        "Patient",
        "Patient.identifier",
        "Patient.identifier:nhs",
        "Patient.identifier:nhs.system",
        "Patient.identifier:mrn",
        "Patient.identifier:mrn.value",
        "Patient.name",
        "Patient.name.family",
    ]
