"""For every profile constraint: a mutation that breaks exactly it, and the issue it must raise."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

import tests.builders as b
from eolc_fhir.validation import ProfileSet

SCT = "http://snomed.info/sct"
EXT = "https://eolc.example.org/fhir/StructureDefinition/"
VERIFICATION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
Resource = dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[], Resource]
    mutate: Callable[[Resource], Any]
    expected: tuple[str, str, str]  # severity, code, expression


def _set(path: str, value: Any) -> Callable[[Resource], None]:
    """Set (or with value None, delete) a dotted path; integer steps index lists."""

    def mutate(resource: Resource) -> None:
        *steps, last = [int(s) if s.isdigit() else s for s in path.split(".")]
        node: Any = resource
        for step in steps:
            node = node[step]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return mutate


def _twice(path: str) -> Callable[[Resource], None]:
    """Repeat the first item of the list at a dotted path."""

    def mutate(resource: Resource) -> None:
        node: Any = resource
        for step in path.split("."):
            node = node[step]
        node.append(dict(node[0]))

    return mutate


def _sct(code: str) -> dict[str, Any]:
    return {"coding": [{"system": SCT, "code": code}]}


def _future(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


P, F = b.make_patient, b.make_patient_full
OTHER_ID = {"system": "https://example.org/mrn", "value": "X1"}
NHS_ID = b.make_patient()["identifier"][0]

CASES = [
    # EolcPatient
    Case(
        "patient-nhs-slice-missing",
        P,
        _set("identifier", [OTHER_ID]),
        ("error", "required", "Patient.identifier"),
    ),
    Case(
        "patient-nhs-slice-twice",
        P,
        _set("identifier", [NHS_ID, NHS_ID]),
        ("error", "structure", "Patient.identifier"),
    ),
    Case(
        "patient-nhs-check-digit",
        P,
        _set("identifier.0.value", "9912003814"),
        ("error", "invariant", "Patient.identifier[0].value"),
    ),
    Case(
        "patient-nhs-not-10-digits",
        F,
        _set("identifier.0.value", "99120038"),
        ("error", "invariant", "Patient.identifier[0].value"),
    ),
    Case(
        "patient-nhs-value-missing",
        P,
        _set("identifier.0.value", None),
        ("error", "required", "Patient.identifier[0].value"),
    ),
    Case(
        "patient-verification-missing",
        P,
        _set("identifier.0.extension", None),
        ("error", "required", f"Patient.identifier[0].extension('{VERIFICATION}')"),
    ),
    Case(
        "patient-verification-code",
        P,
        _set("identifier.0.extension.0.valueCodeableConcept.coding.0.code", "99"),
        (
            "error",
            "code-invalid",
            "Patient.identifier[0].extension[0].value.ofType(CodeableConcept)",
        ),
    ),
    Case(
        "patient-verification-type",
        P,
        _set("identifier.0.extension.0", {"url": VERIFICATION, "valueString": "01"}),
        ("error", "structure", "Patient.identifier[0].extension[0].value.ofType(string)"),
    ),
    Case("patient-name", P, _set("name", None), ("error", "required", "Patient.name")),
    Case(
        "patient-birth-date", P, _set("birthDate", None), ("error", "required", "Patient.birthDate")
    ),
    Case(
        "patient-gp",
        P,
        _set("generalPractitioner", None),
        ("error", "required", "Patient.generalPractitioner"),
    ),
    Case(
        "patient-gp-target",
        F,
        _set("generalPractitioner.0", {"reference": "Practitioner/1"}),
        ("error", "structure", "Patient.generalPractitioner[0]"),
    ),
    Case(
        "patient-unknown-profile",
        P,
        _set("meta.profile", [b.profile_url("EolcPatient"), "https://example.org/Nope"]),
        ("error", "not-supported", "Patient.meta.profile[1]"),
    ),
    # EolcRegisterEntry
    Case(
        "register-code",
        b.make_register_flag_full,
        _set("code", _sct("123")),
        ("error", "code-invalid", "Flag.code"),
    ),
    Case(
        "register-subject",
        b.make_register_flag,
        _set("subject", None),
        ("error", "required", "Flag.subject"),
    ),
    Case(
        "register-subject-target",
        b.make_register_flag,
        _set("subject", {"reference": "Group/g1"}),
        ("error", "structure", "Flag.subject"),
    ),
    Case(
        "register-period",
        b.make_register_flag,
        _set("period", None),
        ("error", "required", "Flag.period"),
    ),
    Case(
        "register-period-start",
        b.make_register_flag,
        _set("period", {"end": "2026-12-01"}),
        ("error", "required", "Flag.period.start"),
    ),
    Case(
        "register-author",
        b.make_register_flag,
        _set("author", None),
        ("error", "required", "Flag.author"),
    ),
    Case(
        "register-author-target",
        b.make_register_flag,
        _set("author", {"reference": "https://other.example.org/fhir/Practitioner/7"}),
        ("error", "structure", "Flag.author"),
    ),
    Case(
        "register-prognosis-code",
        b.make_register_flag_full,
        _set("extension.0.valueCodeableConcept", _sct("1")),
        ("error", "code-invalid", "Flag.extension[0].value.ofType(CodeableConcept)"),
    ),
    Case(
        "register-prognosis-type",
        b.make_register_flag_full,
        _set("extension.0", {"url": EXT + "eolc-prognosis", "valueString": "weeks"}),
        ("error", "structure", "Flag.extension[0].value.ofType(string)"),
    ),
    Case(
        "register-prognosis-twice",
        b.make_register_flag_full,
        lambda r: r["extension"].append(dict(r["extension"][0])),
        ("error", "structure", f"Flag.extension('{EXT}eolc-prognosis')"),
    ),
    Case(
        "register-prognosis-no-value",
        b.make_register_flag_full,
        _set("extension.0", {"url": EXT + "eolc-prognosis"}),
        ("error", "required", "Flag.extension[0].value"),
    ),
    # EolcCPRDecision
    Case(
        "cpr-code",
        b.make_cpr_flag_full,
        _set("code", _sct("526631000000109")),
        ("error", "code-invalid", "Flag.code"),
    ),
    Case(
        "cpr-review-date",
        b.make_cpr_flag,
        _set("period.end", None),
        ("error", "required", "Flag.period.end"),
    ),
    Case(
        "cpr-decision-date",
        b.make_cpr_flag,
        _set("period.start", None),
        ("error", "required", "Flag.period.start"),
    ),
    Case(
        "cpr-review-before-decision",
        b.make_cpr_flag,
        _set("period", {"start": "2026-05-01T10:00:00Z", "end": "2026-04-01"}),
        ("error", "invariant", "Flag.period"),
    ),
    Case("cpr-author", b.make_cpr_flag, _set("author", None), ("error", "required", "Flag.author")),
    Case(
        "cpr-author-target",
        b.make_cpr_flag,
        _set("author", {"reference": "Organization/o1"}),
        ("error", "structure", "Flag.author"),
    ),
    Case(
        "cpr-subject-target",
        b.make_cpr_flag,
        _set("subject", {"reference": "Location/l1"}),
        ("error", "structure", "Flag.subject"),
    ),
    Case(
        "cpr-document-target",
        b.make_cpr_flag_full,
        _set("extension.0.valueReference", {"reference": "Patient/p"}),
        ("error", "structure", "Flag.extension[0].value.ofType(Reference)"),
    ),
    # EolcAdvanceCarePlan
    Case(
        "acp-review-date-missing",
        b.make_care_plan,
        _set("extension", None),
        ("error", "required", f"CarePlan.extension('{EXT}eolc-review-date')"),
    ),
    Case(
        "acp-review-date-too-far",
        b.make_care_plan,
        _set("extension.0.valueDate", _future(120)),
        ("warning", "invariant", "CarePlan"),
    ),
    Case(
        "acp-review-date-stale",
        b.make_care_plan_full,
        _set(
            "meta",
            {
                "lastUpdated": "2026-01-05T10:00:00Z",
                "profile": [b.profile_url("EolcAdvanceCarePlan")],
            },
        ),
        ("warning", "invariant", "CarePlan"),
    ),
    Case(
        "acp-review-date-type",
        b.make_care_plan,
        _set(
            "extension.0",
            {"url": EXT + "eolc-review-date", "valueDateTime": "2026-12-01T10:00:00Z"},
        ),
        ("error", "structure", "CarePlan.extension[0].value.ofType(dateTime)"),
    ),
    Case(
        "acp-intent",
        b.make_care_plan,
        _set("intent", "proposal"),
        ("error", "value", "CarePlan.intent"),
    ),
    Case(
        "acp-category-slice",
        b.make_care_plan_full,
        _set("category", [_sct("734163000")]),
        ("error", "required", "CarePlan.category"),
    ),
    Case(
        "acp-category-twice",
        b.make_care_plan,
        _set("category", [_sct("736366004"), _sct("736366004")]),
        ("error", "structure", "CarePlan.category"),
    ),
    Case(
        "acp-created",
        b.make_care_plan,
        _set("created", None),
        ("error", "required", "CarePlan.created"),
    ),
    Case(
        "acp-author",
        b.make_care_plan,
        _set("author", None),
        ("error", "required", "CarePlan.author"),
    ),
    Case(
        "acp-subject-target",
        b.make_care_plan,
        _set("subject", {"reference": "Group/g"}),
        ("error", "structure", "CarePlan.subject"),
    ),
    Case(
        "acp-activity-detail-code",
        b.make_care_plan_full,
        _set("activity.1.detail.code", None),
        ("error", "required", "CarePlan.activity[1].detail.code"),
    ),
    # EolcPreferredPlace
    Case(
        "place-rank-missing",
        b.make_preferred_place,
        _set("extension", None),
        ("error", "required", f"Observation.extension('{EXT}eolc-preference-rank')"),
    ),
    Case(
        "place-rank-type",
        b.make_preferred_place,
        _set("extension.0", {"url": EXT + "eolc-preference-rank", "valueInteger": 1}),
        ("error", "structure", "Observation.extension[0].value.ofType(integer)"),
    ),
    Case(
        "place-code",
        b.make_preferred_place_full,
        _set("code", {"coding": [{"system": "http://loinc.org", "code": "1"}]}),
        ("error", "code-invalid", "Observation.code"),
    ),
    Case(
        "place-subject",
        b.make_preferred_place,
        _set("subject", None),
        ("error", "required", "Observation.subject"),
    ),
    Case(
        "place-effective",
        b.make_preferred_place,
        _set("effectiveDateTime", None),
        ("error", "required", "Observation.effective"),
    ),
    Case(
        "place-effective-type",
        b.make_preferred_place,
        lambda r: r.update(effectiveInstant=r.pop("effectiveDateTime")),
        ("error", "structure", "Observation.effective.ofType(instant)"),
    ),
    Case(
        "place-value",
        b.make_preferred_place,
        _set("valueCodeableConcept", None),
        ("error", "required", "Observation.value"),
    ),
    Case(
        "place-value-type",
        b.make_preferred_place,
        lambda r: (
            r.update(valueString="home", valueCodeableConcept=None) or r.pop("valueCodeableConcept")
        ),
        ("error", "structure", "Observation.value.ofType(string)"),
    ),
    Case(
        "place-value-code",
        b.make_preferred_place,
        _set("valueCodeableConcept.coding.0.code", "99"),
        ("error", "code-invalid", "Observation.value.ofType(CodeableConcept)"),
    ),
    # EolcADRT
    Case(
        "adrt-scope",
        b.make_adrt_full,
        _set(
            "scope",
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "treatment",
                    }
                ]
            },
        ),
        ("error", "value", "Consent.scope"),
    ),
    Case(
        "adrt-category",
        b.make_adrt_full,
        _set("category", [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}]),
        ("error", "required", "Consent.category"),
    ),
    Case(
        "adrt-patient", b.make_adrt, _set("patient", None), ("error", "required", "Consent.patient")
    ),
    Case(
        "adrt-date", b.make_adrt, _set("dateTime", None), ("error", "required", "Consent.dateTime")
    ),
    Case(
        "adrt-source",
        b.make_adrt,
        _set("sourceAttachment", None),
        ("error", "required", "Consent.source"),
    ),
    Case(
        "adrt-source-target",
        b.make_adrt_full,
        _set("sourceReference", {"reference": "Patient/p"}),
        ("error", "structure", "Consent.source.ofType(Reference)"),
    ),
    Case(
        "adrt-provision",
        b.make_adrt,
        _set("provision", None),
        ("error", "required", "Consent.provision"),
    ),
    Case(
        "adrt-provision-type",
        b.make_adrt,
        _set("provision.type", "permit"),
        ("error", "value", "Consent.provision.type"),
    ),
    Case(
        "adrt-refused-treatments",
        b.make_adrt,
        _set("provision.code", None),
        ("error", "required", "Consent.provision.code"),
    ),
    # EolcLastingPowerOfAttorney
    Case(
        "lpa-relationship",
        b.make_lpa_full,
        _set("relationship", [{"text": "daughter"}]),
        ("error", "required", "RelatedPerson.relationship"),
    ),
    Case("lpa-name", b.make_lpa, _set("name", None), ("error", "required", "RelatedPerson.name")),
    Case(
        "lpa-one-name",
        b.make_lpa,
        _set("name", [{"family": "A"}, {"family": "B"}]),
        ("error", "structure", "RelatedPerson.name"),
    ),
    Case(
        "lpa-telecom",
        b.make_lpa,
        _set("telecom", None),
        ("error", "required", "RelatedPerson.telecom"),
    ),
    Case(
        "lpa-patient-target",
        b.make_lpa,
        _set("patient", {"reference": "Group/g"}),
        ("error", "structure", "RelatedPerson.patient"),
    ),
    Case(
        "lpa-authority-type",
        b.make_lpa_full,
        _set(
            "extension.0", {"url": EXT + "eolc-lpa-life-sustaining-authority", "valueString": "yes"}
        ),
        ("error", "structure", "RelatedPerson.extension[0].value.ofType(string)"),
    ),
    # EolcReSPECTForm
    Case(
        "respect-type-coding",
        b.make_respect_form_full,
        _set("type", {"coding": [{"system": "http://loinc.org", "code": "1"}]}),
        ("error", "required", "DocumentReference.type.coding"),
    ),
    Case(
        "respect-type",
        b.make_respect_form_full,
        _set("type", None),
        ("error", "required", "DocumentReference.type"),
    ),
    Case(
        "respect-category",
        b.make_respect_form,
        _set("category", [_sct("1")]),
        ("error", "required", "DocumentReference.category"),
    ),
    Case(
        "respect-subject",
        b.make_respect_form,
        _set("subject", None),
        ("error", "required", "DocumentReference.subject"),
    ),
    Case(
        "respect-author",
        b.make_respect_form,
        _set("author", None),
        ("error", "required", "DocumentReference.author"),
    ),
    Case(
        "respect-author-target",
        b.make_respect_form,
        _set("author", [{"reference": "Patient/p"}]),
        ("error", "structure", "DocumentReference.author[0]"),
    ),
    Case(
        "respect-date",
        b.make_respect_form,
        _set("date", None),
        ("error", "required", "DocumentReference.date"),
    ),
    Case(
        "respect-priority-range",
        b.make_respect_form_full,
        _set("extension.0.valueInteger", 11),
        ("error", "invariant", "DocumentReference.extension[0]"),
    ),
    Case(
        "respect-priority-twice",
        b.make_respect_form_full,
        lambda r: r["extension"].append(dict(r["extension"][0])),
        ("error", "structure", f"DocumentReference.extension('{EXT}eolc-respect-care-priority')"),
    ),
    # EolcConsentToShare
    Case(
        "share-scope",
        b.make_consent_to_share_full,
        _set(
            "scope",
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "research",
                    }
                ]
            },
        ),
        ("error", "value", "Consent.scope"),
    ),
    Case(
        "share-category",
        b.make_consent_to_share_full,
        _set("category", [_sct("1")]),
        ("error", "required", "Consent.category"),
    ),
    Case(
        "share-patient",
        b.make_consent_to_share,
        _set("patient", None),
        ("error", "required", "Consent.patient"),
    ),
    Case(
        "share-date",
        b.make_consent_to_share,
        _set("dateTime", None),
        ("error", "required", "Consent.dateTime"),
    ),
    # EolcCoordinatedCareEpisode
    Case(
        "episode-finished-without-end",
        b.make_episode_full,
        _set("period", {"start": "2026-02-03"}),
        ("error", "invariant", "EpisodeOfCare"),
    ),
    Case(
        "episode-type",
        b.make_episode_full,
        _set("type", [_sct("1")]),
        ("error", "required", "EpisodeOfCare.type"),
    ),
    Case(
        "episode-managing-organization",
        b.make_episode,
        _set("managingOrganization", None),
        ("error", "required", "EpisodeOfCare.managingOrganization"),
    ),
    Case(
        "episode-managing-organization-target",
        b.make_episode,
        _set("managingOrganization", {"reference": "Practitioner/x"}),
        ("error", "structure", "EpisodeOfCare.managingOrganization"),
    ),
    Case(
        "episode-period",
        b.make_episode,
        _set("period", None),
        ("error", "required", "EpisodeOfCare.period"),
    ),
    Case(
        "episode-period-start",
        b.make_episode,
        _set("period", {"end": "2026-05-01"}),
        ("error", "required", "EpisodeOfCare.period.start"),
    ),
    Case(
        "episode-care-manager-target",
        b.make_episode_full,
        _set("careManager", {"reference": "PractitionerRole/x"}),
        ("error", "structure", "EpisodeOfCare.careManager"),
    ),
    Case(
        "episode-team-target",
        b.make_episode_full,
        _set("team", [{"reference": "Organization/x"}]),
        ("error", "structure", "EpisodeOfCare.team[0]"),
    ),
    # slice and extension maxima (max 1) not covered above
    Case(
        "cpr-document-twice",
        b.make_cpr_flag_full,
        _twice("extension"),
        ("error", "structure", f"Flag.extension('{EXT}eolc-decision-document')"),
    ),
    Case(
        "acp-review-date-twice",
        b.make_care_plan,
        _twice("extension"),
        ("error", "structure", f"CarePlan.extension('{EXT}eolc-review-date')"),
    ),
    Case(
        "place-rank-twice",
        b.make_preferred_place,
        _twice("extension"),
        ("error", "structure", f"Observation.extension('{EXT}eolc-preference-rank')"),
    ),
    Case(
        "adrt-category-twice",
        b.make_adrt,
        _twice("category"),
        ("error", "structure", "Consent.category"),
    ),
    Case(
        "share-category-twice",
        b.make_consent_to_share,
        _twice("category"),
        ("error", "structure", "Consent.category"),
    ),
    Case(
        "lpa-relationship-twice",
        b.make_lpa,
        _twice("relationship"),
        ("error", "structure", "RelatedPerson.relationship"),
    ),
    Case(
        "lpa-authority-twice",
        b.make_lpa_full,
        _twice("extension"),
        (
            "error",
            "structure",
            f"RelatedPerson.extension('{EXT}eolc-lpa-life-sustaining-authority')",
        ),
    ),
    Case(
        "respect-type-coding-twice",
        b.make_respect_form,
        _twice("type.coding"),
        ("error", "structure", "DocumentReference.type.coding"),
    ),
    Case(
        "respect-category-twice",
        b.make_respect_form,
        _twice("category"),
        ("error", "structure", "DocumentReference.category"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mutation_raises_exactly_the_expected_issue(profile_set: ProfileSet, case: Case) -> None:
    resource = case.build()
    assert profile_set.validate(resource) == [], "the unmutated example must be valid"
    case.mutate(resource)
    issues = profile_set.validate(resource)
    assert [(i.severity, i.code, i.expression[0]) for i in issues] == [case.expected]
    assert len(issues[0].diagnostics) > 20


def test_every_constraint_key_has_a_mutation() -> None:
    keys = {"eolc-nhs-1", "eolc-cpr-1", "eolc-acp-1", "eolc-epi-1", "eolc-respect-1"}
    invariant_cases = [c for c in CASES if c.expected[1] == "invariant"]
    assert len(invariant_cases) >= len(keys)


def test_review_date_within_three_months_of_last_change_is_fine(profile_set: ProfileSet) -> None:
    plan = b.make_care_plan(meta={"lastUpdated": "2026-01-05T10:00:00Z"})
    plan["extension"][0]["valueDate"] = "2026-04-05"
    assert profile_set.validate(plan) == []
    plan["extension"][0]["valueDate"] = "2026-04-06"
    assert [i.key if hasattr(i, "key") else i.code for i in profile_set.validate(plan)] == [
        "invariant"
    ]


def test_no_choice_recorded_findings_are_valid_places(profile_set: ProfileSet) -> None:
    for code in (
        "517161000000101",
        "766391000000108",
        "517111000000103",
        "517131000000106",
        "819211000000102",
    ):
        place = b.make_preferred_place(valueCodeableConcept=_sct(code))
        assert profile_set.validate(place) == []


def test_finished_episode_with_end_is_valid(profile_set: ProfileSet) -> None:
    assert (
        profile_set.validate(
            b.make_episode(status="finished", period={"start": "2026-01-01", "end": "2026-02-01"})
        )
        == []
    )


@pytest.mark.parametrize("number", b.VALID_NHS_NUMBERS)
def test_valid_nhs_numbers_pass(profile_set: ProfileSet, number: str) -> None:
    patient = b.make_patient()
    patient["identifier"][0]["value"] = number
    assert profile_set.validate(patient) == []


@pytest.mark.parametrize("number", ["9912003814", "4123456879", "6101231234"])
def test_published_but_invalid_nhs_numbers_fail(profile_set: ProfileSet, number: str) -> None:
    patient = b.make_patient()
    patient["identifier"][0]["value"] = number
    issues = profile_set.validate(patient)
    assert [(i.code, i.expression) for i in issues] == [
        ("invariant", ("Patient.identifier[0].value",))
    ]
    assert "eolc-nhs-1" in issues[0].diagnostics


def test_no_identifier_at_all_breaks_both_the_element_and_its_slice(
    profile_set: ProfileSet,
) -> None:
    issues = profile_set.validate(b.make_patient(identifier=None))
    assert [(i.code, i.expression[0]) for i in issues] == [
        ("required", "Patient.identifier"),
        ("required", "Patient.identifier"),
    ]
    assert "nhsNumber" in issues[1].diagnostics
