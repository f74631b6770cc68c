"""What a record of a person is, in words, and the person a record is about (pure, no I/O).

Shared by the person page's history and the live board: "CPR decision", "Register
entry", "Advance care plan"... from the resource type and, when the resource is at
hand, its codes; and a person's name, NHS number, practice and death from their
Patient resource.
"""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.nhs_number import NHS_NUMBER_SYSTEM
from eolc_fhir.services.wishes.parts import (
    ACP_CATEGORY,
    ADRT_CODES,
    CPR_CODES,
    REGISTER_CODES,
    RESPECT_TYPE,
    SHARE_BEST_INTERESTS,
    SHARE_GIVEN,
    SHARE_WITHDRAWN,
)

__all__ = ["record_label", "person_facts", "CLIENT_ID_SYSTEM", "USER_SYSTEM"]

# the identifier systems the server's Provenance and Patient records use (web/ reads
# records as any app would, so it names them rather than importing security/)
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
CLIENT_ID_SYSTEM = "https://eolc.example.org/fhir/Id/client-id"
USER_SYSTEM = "https://eolc.example.org/fhir/Id/user"
_SHARE = {SHARE_GIVEN, SHARE_WITHDRAWN, SHARE_BEST_INTERESTS}

# resource type -> what it is when only the type is known (a deleted record, say)
_BY_TYPE = {
    "Patient": "Person's details", "Flag": "Flag (CPR decision or register entry)",
    "CarePlan": "Care plan", "Observation": "Preference or observation",
    "Consent": "Consent or advance decision", "RelatedPerson": "Related person or LPA holder",
    "DocumentReference": "Document", "EpisodeOfCare": "Coordinated care episode",
    "Encounter": "Encounter", "MedicationRequest": "Anticipatory medicine",
}


def _codes(concepts: Any) -> set[str]:
    found: set[str] = set()
    for concept in concepts if isinstance(concepts, list) else [concepts]:
        if isinstance(concept, dict):
            found.update(str(c.get("code")) for c in concept.get("coding") or []
                         if isinstance(c, dict))
    return found


def record_label(resource_type: str, resource: dict[str, Any] | None = None) -> str:
    """What the record is, in words; from its codes when the resource is given."""
    if resource:
        code, category = _codes(resource.get("code")), _codes(resource.get("category"))
        kinds = [
            (resource_type == "Flag" and bool(code & CPR_CODES.keys()), "CPR decision"),
            (resource_type == "Flag" and bool(code & REGISTER_CODES), "Register entry"),
            (resource_type == "CarePlan" and ACP_CATEGORY in category, "Advance care plan"),
            (resource_type == "Consent" and bool(category & _SHARE), "Consent to share"),
            (resource_type == "Consent" and bool(category & ADRT_CODES),
             "Advance decision to refuse treatment"),
            (resource_type == "DocumentReference" and RESPECT_TYPE in _codes(resource.get("type")),
             "ReSPECT form"),
        ]
        found = next((label for hit, label in kinds if hit), None)
        if found:
            return found
    return _BY_TYPE.get(resource_type, resource_type)


def person_facts(patient: dict[str, Any]) -> dict[str, Any]:
    """Name, NHS number, practice (ODS code or reference, and its name) and death."""
    names = patient.get("name") or [{}]
    first = names[0] if isinstance(names[0], dict) else {}
    name = str(first.get("text") or " ".join(
        str(p) for p in [*(first.get("given") or []), first.get("family", "")] if p))
    nhs = next((str(i.get("value", "")) for i in patient.get("identifier") or []
                if isinstance(i, dict) and i.get("system") == NHS_NUMBER_SYSTEM), "")
    gp = next((g for g in patient.get("generalPractitioner") or [] if isinstance(g, dict)
               and (str(g.get("reference", "")).startswith("Organization/")
                    or (g.get("identifier") or {}).get("system") == ODS_SYSTEM)), {})
    ods = str((gp.get("identifier") or {}).get("value", "")) \
        if (gp.get("identifier") or {}).get("system") == ODS_SYSTEM else ""
    practice = ods or str(gp.get("reference", ""))
    label = " ".join(p for p in (str(gp.get("display", "")), f"({ods})" if ods else "") if p)
    deceased = patient.get("deceasedBoolean") is True or "deceasedDateTime" in patient
    return {"patient": str(patient.get("id", "")), "name": name or "Name not recorded",
            "nhs": nhs, "practice": practice, "practice_name": label or practice,
            "deceased": deceased}
