"""Builders of palliative resources for tests: the ONE place they are made.

Each ``make_x(**overrides)`` returns a minimal resource that meets its profile
(automatic profiles are not claimed in ``meta.profile``); each
``make_x_full(**overrides)`` returns a resource using every element the profile
constrains, claiming its profile. Overrides replace top-level keys; an override
of ``None`` removes the key. Every call returns a fresh dict (safe to mutate).
NHS numbers used here pass the modulus-11 check (9912003888, 9658220142,
9999999468, 9000000009); never use 9912003814, which fails it.
"""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "BASE",
    "SCT",
    "NHS_NUMBER_SYSTEM",
    "VALID_NHS_NUMBERS",
    "PATIENT_REF",
    "PRACTICE_REF",
    "CLINICIAN_REF",
    "profile_url",
    "make_patient",
    "make_patient_full",
    "make_lab_observation",
    "make_register_flag",
    "make_register_flag_full",
    "make_cpr_flag",
    "make_cpr_flag_full",
    "make_care_plan",
    "make_care_plan_full",
    "make_preferred_place",
    "make_preferred_place_full",
    "make_adrt",
    "make_adrt_full",
    "make_lpa",
    "make_lpa_full",
    "make_respect_form",
    "make_respect_form_full",
    "make_consent_to_share",
    "make_consent_to_share_full",
    "make_episode",
    "make_episode_full",
    "make_place_of_death",
    "make_place_of_death_full",
    "make_emergency_admission",
    "make_emergency_admission_full",
    "ACT_CODE",
    "ACT_PRIORITY",
    "BUILDERS",
]

BASE = "https://eolc.example.org/fhir"
SCT = "http://snomed.info/sct"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
VERIFICATION_EXT = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
VERIFICATION_CS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland"
CONCEPTS = f"{BASE}/CodeSystem/eolc-concepts"
PLACE_TYPE = f"{BASE}/CodeSystem/eolc-place-type"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
VALID_NHS_NUMBERS = ("9912003888", "9658220142", "9999999468", "9000000009")
PATIENT_REF = {"reference": "Patient/eolc-patient-1"}
PRACTICE_REF = {"reference": "Organization/gp-practice-1", "display": "Riverside Surgery"}
CLINICIAN_REF = {"reference": "Practitioner/dr-okafor", "display": "Dr A Okafor"}


def profile_url(name: str) -> str:
    return f"{BASE}/StructureDefinition/{name}"


def _ext(name: str, **value: Any) -> dict[str, Any]:
    return {"url": profile_url(name), **value}


def _sct(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": SCT, "code": code, "display": display}]}


def _build(resource: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(resource)
    for key, value in overrides.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = copy.deepcopy(value)
    return result


def _meta(name: str) -> dict[str, Any]:
    return {"profile": [profile_url(name)]}


def _today(days: int = 0) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def _now(days: int = 0) -> str:
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)
    return moment.isoformat().replace("+00:00", "Z")


# -- Patient ---------------------------------------------------------------------
def _nhs_identifier(number: str) -> dict[str, Any]:
    return {
        "extension": [
            {
                "url": VERIFICATION_EXT,
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": VERIFICATION_CS,
                            "code": "01",
                            "display": "Number present and verified",
                        }
                    ]
                },
            }
        ],
        "system": NHS_NUMBER_SYSTEM,
        "value": number,
    }


def make_patient(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Patient",
            "meta": _meta("EolcPatient"),
            "identifier": [_nhs_identifier(VALID_NHS_NUMBERS[0])],
            "name": [{"family": "Hughes", "given": ["Margaret"]}],
            "birthDate": "1941-03-14",
            "generalPractitioner": [PRACTICE_REF],
        },
        overrides,
    )


def make_lab_observation(code: str = "1975-2", **overrides: Any) -> dict[str, Any]:
    """A plain R4 laboratory Observation (no local profile): LOINC ``code``, a value."""
    return _build(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
            "subject": PATIENT_REF,
            "valueQuantity": {"value": 4.2, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                              "code": "mg/dL"},
        },
        overrides,
    )


def make_patient_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_patient(
            active=True,
            identifier=[
                _nhs_identifier(VALID_NHS_NUMBERS[1]),
                {"system": "https://riverside-hospital.example.org/mrn", "value": "RH-0042117"},
            ],
            name=[
                {
                    "use": "official",
                    "family": "Hughes",
                    "given": ["Margaret", "Ann"],
                    "prefix": ["Mrs"],
                }
            ],
            telecom=[{"system": "phone", "value": "01632 960123", "use": "home"}],
            gender="female",
            address=[{"line": ["12 Mill Lane"], "city": "Riverside", "postalCode": "RS1 4AB"}],
            generalPractitioner=[
                {**PRACTICE_REF, "identifier": {"system": ODS_SYSTEM, "value": "Y01234"}}
            ],
        ),
        overrides,
    )


# -- Flags: register entry and CPR decision ----------------------------------------
def make_register_flag(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Flag",
            "status": "active",
            "code": _sct("526631000000108", "On end of life care register"),
            "subject": PATIENT_REF,
            "period": {"start": "2026-02-03"},
            "author": PRACTICE_REF,
        },
        overrides,
    )


def make_register_flag_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_register_flag(
            meta=_meta("EolcRegisterEntry"),
            extension=[
                _ext(
                    "eolc-prognosis",
                    valueCodeableConcept=_sct("968211000000101", "Last months of life"),
                )
            ],
            category=[
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                            "code": "clinical",
                        }
                    ]
                }
            ],
            period={"start": "2026-02-03", "end": "2026-10-01"},
            status="inactive",
        ),
        overrides,
    )


def make_cpr_flag(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Flag",
            "status": "active",
            "code": _sct("450476008", "Not for attempted cardiopulmonary resuscitation"),
            "subject": PATIENT_REF,
            "period": {"start": _now(-30), "end": _today(150)},
            "author": CLINICIAN_REF,
        },
        overrides,
    )


def make_cpr_flag_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_cpr_flag(
            meta=_meta("EolcCPRDecision"),
            extension=[
                _ext(
                    "eolc-decision-document",
                    valueReference={"reference": "DocumentReference/respect-1"},
                )
            ],
            category=[
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                            "code": "clinical",
                        }
                    ]
                }
            ],
            author={"reference": "PractitionerRole/consultant-okafor"},
        ),
        overrides,
    )


# -- Advance care plan --------------------------------------------------------------
def make_care_plan(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "CarePlan",
            "extension": [_ext("eolc-review-date", valueDate=_today(60))],
            "status": "active",
            "intent": "plan",
            "category": [_sct("736366004", "Advance care plan")],
            "subject": PATIENT_REF,
            "created": _today(),
            "author": CLINICIAN_REF,
        },
        overrides,
    )


def make_care_plan_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_care_plan(
            meta=_meta("EolcAdvanceCarePlan"),
            title="My advance care plan",
            description="Plan agreed with Margaret and her daughter at home.",
            category=[_sct("736366004", "Advance care plan"), _sct("734163000", "Care plan")],
            period={"start": _today()},
            contributor=[PATIENT_REF, {"reference": "RelatedPerson/lpa-1"}],
            careTeam=[{"reference": "CareTeam/team-1"}],
            supportingInfo=[
                {"reference": "Flag/cpr-1"},
                {"reference": "Observation/ppd-1"},
                {"reference": "Consent/adrt-1"},
                {"reference": "RelatedPerson/lpa-1"},
                {"reference": "DocumentReference/respect-1"},
            ],
            activity=[
                {
                    "detail": {
                        "kind": "ServiceRequest",
                        "code": {"text": "Admission to hospital"},
                        "status": "not-started",
                        "doNotPerform": True,
                        "description": "No admission unless symptoms are unmanageable at home.",
                    }
                },
                {
                    "detail": {
                        "code": {"text": "Antibiotics for chest infection"},
                        "status": "not-started",
                        "description": "Oral antibiotics at home are acceptable.",
                    }
                },
            ],
            note=[{"text": "What matters to me: being at home with my garden and my cat."}],
        ),
        overrides,
    )


# -- Preferred place -----------------------------------------------------------------
def make_preferred_place(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Observation",
            "extension": [_ext("eolc-preference-rank", valuePositiveInt=1)],
            "status": "final",
            "code": {"coding": [{"system": CONCEPTS, "code": "preferred-place-of-death"}]},
            "subject": PATIENT_REF,
            "effectiveDateTime": "2026-03-01T11:00:00Z",
            "valueCodeableConcept": {"coding": [{"system": PLACE_TYPE, "code": "21"}]},
        },
        overrides,
    )


def make_preferred_place_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_preferred_place(
            meta=_meta("EolcPreferredPlace"),
            code={
                "coding": [
                    {
                        "system": CONCEPTS,
                        "code": "preferred-place-of-care",
                        "display": "Preferred place of care",
                    }
                ]
            },
            effectivePeriod={"start": "2026-03-01T11:00:00Z"},
            effectiveDateTime=None,
            performer=[CLINICIAN_REF],
            valueCodeableConcept={
                "coding": [{"system": PLACE_TYPE, "code": "30", "display": "Hospice"}],
                "text": "St Mary's Hospice",
            },
            note=[{"text": "Would like to stay at home as long as possible, then the hospice."}],
            extension=[_ext("eolc-preference-rank", valuePositiveInt=2)],
        ),
        overrides,
    )


# -- Consents: ADRT and consent to share ------------------------------------------------
def make_adrt(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Consent",
            "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "adr"}]},
            "category": [
                _sct("816321000000109", "Has advance decision to refuse life sustaining treatment")
            ],
            "patient": PATIENT_REF,
            "dateTime": "2026-01-20T15:00:00Z",
            "sourceAttachment": {"title": "Signed ADRT, kept in the red folder at home"},
            "policyRule": {"text": "Mental Capacity Act 2005, sections 24-26"},
            "provision": {"type": "deny", "code": [{"text": "Cardiopulmonary resuscitation"}]},
        },
        overrides,
    )


def make_adrt_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_adrt(
            meta=_meta("EolcADRT"),
            category=[
                _sct("816301000000100", "Has advance decision to refuse treatment"),
                {"coding": [{"system": "http://loinc.org", "code": "59284-0"}]},
            ],
            performer=[PATIENT_REF],
            organization=[PRACTICE_REF],
            sourceAttachment=None,
            sourceReference={"reference": "DocumentReference/adrt-scan-1"},
            provision={
                "type": "deny",
                "period": {"start": "2026-01-20"},
                "code": [
                    _sct("89666000", "Cardiopulmonary resuscitation"),
                    {"text": "Artificial ventilation"},
                ],
            },
        ),
        overrides,
    )


def make_consent_to_share(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Consent",
            "status": "active",
            "scope": {"coding": [{"system": CONSENT_SCOPE, "code": "patient-privacy"}]},
            "category": [
                _sct(
                    "882921000000109",
                    "Consent given for sharing end of life care coordination record",
                )
            ],
            "patient": PATIENT_REF,
            "dateTime": "2026-01-10T10:00:00Z",
            "policyRule": {"text": "Regional EPaCCS information sharing agreement"},
        },
        overrides,
    )


def make_consent_to_share_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_consent_to_share(
            meta=_meta("EolcConsentToShare"),
            performer=[PATIENT_REF],
            organization=[PRACTICE_REF],
            provision={"type": "permit", "period": {"start": "2026-01-10"}},
        ),
        overrides,
    )


# -- Lasting power of attorney -------------------------------------------------------------
def make_lpa(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "RelatedPerson",
            "patient": PATIENT_REF,
            "relationship": [{"coding": [{"system": CONCEPTS, "code": "lpa-health-and-welfare"}]}],
            "name": [{"family": "Hughes", "given": ["Sarah"]}],
            "telecom": [{"system": "phone", "value": "07700 900123"}],
        },
        overrides,
    )


def make_lpa_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_lpa(
            meta=_meta("EolcLastingPowerOfAttorney"),
            extension=[_ext("eolc-lpa-life-sustaining-authority", valueBoolean=True)],
            active=True,
            relationship=[
                {
                    "coding": [
                        {
                            "system": CONCEPTS,
                            "code": "lpa-health-and-welfare",
                            "display": "Lasting power of attorney for health and welfare",
                        }
                    ]
                },
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                            "code": "DAU",
                        }
                    ]
                },
            ],
            telecom=[
                {"system": "phone", "value": "07700 900123", "use": "mobile"},
                {"system": "email", "value": "sarah.hughes@example.org"},
            ],
            address=[{"line": ["3 Orchard Close"], "city": "Riverside", "postalCode": "RS2 9CD"}],
        ),
        overrides,
    )


# -- ReSPECT form ------------------------------------------------------------------------------
def make_respect_form(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "DocumentReference",
            "status": "current",
            "type": _sct(
                "1382601000000107", "Recommended Summary Plan for Emergency Care and Treatment form"
            ),
            "category": [_sct("734163000", "Care plan")],
            "subject": PATIENT_REF,
            "date": "2026-02-10T09:00:00Z",
            "author": [CLINICIAN_REF],
            "content": [
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "url": "https://docs.example.org/respect/123.pdf",
                    }
                }
            ],
        },
        overrides,
    )


def make_respect_form_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_respect_form(
            meta=_meta("EolcReSPECTForm"),
            extension=[_ext("eolc-respect-care-priority", valueInteger=8)],
            description="ReSPECT: prioritise comfort; not for CPR; ward-based care only.",
            custodian=PRACTICE_REF,
            author=[CLINICIAN_REF, PRACTICE_REF],
            content=[
                {
                    "attachment": {
                        "contentType": "application/pdf",
                        "title": "ReSPECT form",
                        "url": "https://docs.example.org/respect/123.pdf",
                    }
                },
                {"attachment": {"contentType": "text/plain", "data": "Q29tZm9ydCBmaXJzdA=="}},
            ],
        ),
        overrides,
    )


# -- Coordinated care episode --------------------------------------------------------------------
def make_episode(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "EpisodeOfCare",
            "status": "active",
            "type": [_sct("310073009", "Palliative care service")],
            "patient": PATIENT_REF,
            "managingOrganization": {"reference": "Organization/coordination-centre"},
            "period": {"start": "2026-02-03"},
        },
        overrides,
    )


def make_episode_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_episode(
            meta=_meta("EolcCoordinatedCareEpisode"),
            identifier=[{"system": f"{BASE}/Id/episode", "value": "EP-2026-0001"}],
            status="finished",
            statusHistory=[
                {"status": "active", "period": {"start": "2026-02-03", "end": "2026-09-30"}}
            ],
            type=[_sct("395086005", "Community specialist palliative care")],
            period={"start": "2026-02-03", "end": "2026-09-30"},
            careManager={"reference": "Practitioner/nurse-patel"},
            team=[{"reference": "CareTeam/team-1"}],
        ),
        overrides,
    )


# -- What happened: the actual place of death, emergency admissions ----------------------
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
HOSPITAL_ODS = {"system": ODS_SYSTEM, "value": "RXX01"}


def make_place_of_death(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": CONCEPTS, "code": "actual-place-of-death"}]},
            "subject": PATIENT_REF,
            "effectiveDateTime": "2026-09-14T03:20:00Z",
            "valueCodeableConcept": {"coding": [{"system": PLACE_TYPE, "code": "21"}]},
        },
        overrides,
    )


def make_place_of_death_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_place_of_death(
            meta=_meta("EolcPlaceOfDeath"),
            code={
                "coding": [
                    {"system": CONCEPTS, "code": "actual-place-of-death",
                     "display": "Actual place of death"}
                ]
            },
            performer=[CLINICIAN_REF],
            valueCodeableConcept={
                "coding": [{"system": PLACE_TYPE, "code": "10", "display": "Hospital"}],
                "text": "Riverside General Hospital",
            },
        ),
        overrides,
    )


def make_emergency_admission(**overrides: Any) -> dict[str, Any]:
    return _build(
        {
            "resourceType": "Encounter",
            "status": "finished",
            "class": {"system": ACT_CODE, "code": "IMP"},
            "priority": {"coding": [{"system": ACT_PRIORITY, "code": "EM"}]},
            "subject": PATIENT_REF,
            "period": {"start": "2026-08-30T22:10:00Z"},
            "serviceProvider": {"identifier": HOSPITAL_ODS},
        },
        overrides,
    )


def make_emergency_admission_full(**overrides: Any) -> dict[str, Any]:
    return _build(
        make_emergency_admission(
            meta=_meta("EolcEmergencyAdmission"),
            identifier=[{"system": f"{BASE}/Id/admission", "value": "ADM-2026-0042"}],
            **{"class": {"system": ACT_CODE, "code": "EMER", "display": "emergency"}},
            priority={
                "coding": [{"system": ACT_PRIORITY, "code": "EM", "display": "emergency"}]
            },
            period={"start": "2026-08-30T22:10:00Z", "end": "2026-09-02T10:00:00Z"},
            serviceProvider={"reference": "Organization/riverside-hospital",
                             "identifier": HOSPITAL_ODS},
        ),
        overrides,
    )


# name -> (minimal builder, full builder)
BUILDERS = {
    "EolcPatient": (make_patient, make_patient_full),
    "EolcRegisterEntry": (make_register_flag, make_register_flag_full),
    "EolcCPRDecision": (make_cpr_flag, make_cpr_flag_full),
    "EolcAdvanceCarePlan": (make_care_plan, make_care_plan_full),
    "EolcPreferredPlace": (make_preferred_place, make_preferred_place_full),
    "EolcADRT": (make_adrt, make_adrt_full),
    "EolcLastingPowerOfAttorney": (make_lpa, make_lpa_full),
    "EolcReSPECTForm": (make_respect_form, make_respect_form_full),
    "EolcConsentToShare": (make_consent_to_share, make_consent_to_share_full),
    "EolcCoordinatedCareEpisode": (make_episode, make_episode_full),
    "EolcPlaceOfDeath": (make_place_of_death, make_place_of_death_full),
    "EolcEmergencyAdmission": (make_emergency_admission, make_emergency_admission_full),
}
