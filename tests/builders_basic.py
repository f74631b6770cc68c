"""Builders for plain (non-palliative) resources used across API tests."""

from __future__ import annotations

from typing import Any

__all__ = ["patient", "NHS"]

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def patient(*, nhs: str = "9912003888", **overrides: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": NHS, "value": nhs}],
        "active": True,
        "name": [{"family": "Example", "given": ["Alex"]}],
        "gender": "female",
        "birthDate": "1940-05-17",
    }
    resource.update(overrides)
    return resource
