"""Whose record a resource belongs to: the Patient it is about (pure, data-driven)."""

from __future__ import annotations

from typing import Any

__all__ = ["patient_of", "patients_named", "is_consent_to_share", "consent_state", "WITHDRAWAL",
           "CONSENT_CODES"]

# Elements that point at the person a resource is about, in the order we look.
_PATIENT_ELEMENTS = ("patient", "subject", "beneficiary", "individual")
SNOMED = "http://snomed.info/sct"
GIVEN, WITHDRAWAL, BEST_INTERESTS = "882921000000109", "882941000000102", "882961000000101"
CONSENT_CODES = frozenset({GIVEN, WITHDRAWAL, BEST_INTERESTS})


def _patient_ref(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            return ref.split("/")[1]
    return None


def patient_of(resource: dict[str, Any]) -> str | None:
    """The id of the Patient this resource is about, if any."""
    if resource.get("resourceType") == "Patient":
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    for element in _PATIENT_ELEMENTS:
        found = _patient_ref(resource.get(element))
        if found is not None:
            return found
    return None


def patients_named(resource: dict[str, Any]) -> set[str]:
    """The ids of every Patient the elements ``patient_of`` looks at point to (any item of
    a list): the people the resource may be about."""
    found = set()
    for element in _PATIENT_ELEMENTS:
        value = resource.get(element)
        for item in value if isinstance(value, list) else [value]:
            patient = _patient_ref(item)
            if patient is not None:
                found.add(patient)
    return found


def _category_codes(resource: dict[str, Any]) -> set[str]:
    return {
        coding.get("code")
        for concept in resource.get("category") or []
        for coding in (concept.get("coding") or [])
        if coding.get("system") == SNOMED
    }


def is_consent_to_share(resource: dict[str, Any]) -> bool:
    return resource.get("resourceType") == "Consent" and bool(
        _category_codes(resource) & CONSENT_CODES)


def consent_state(resource: dict[str, Any]) -> tuple[bool, bool]:
    """(active, withdrawn) of a consent-to-share Consent."""
    return resource.get("status") == "active", WITHDRAWAL in _category_codes(resource)
