"""Provenance of a write: target, the person it is about, recorded, agents (app, person)."""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.instant import to_instant
from eolc_fhir.security.audit import CLIENT_ID_SYSTEM, ODS_SYSTEM, USER_SYSTEM
from eolc_fhir.security.principal import Principal

__all__ = ["provenance_for", "about_patient", "ACTIVITY", "PATIENT_EXTENSION"]

_ACTIVITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ACTIVITY = {"create": "CREATE", "update": "UPDATE", "delete": "DELETE"}
_AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
# R5's Provenance.patient in R4 (the cross-version extension): the person whose record
# the target belongs to, so one search (Provenance?patient=) finds their whole history.
PATIENT_EXTENSION = "http://hl7.org/fhir/5.0/StructureDefinition/extension-Provenance.patient"


def provenance_for(target: str, interaction: str, recorded_us: int,
                   principal: Principal, patient: str | None = None) -> dict[str, Any]:
    """A Provenance for ``target`` (Type/id/_history/v) written by ``principal``, about
    ``patient`` (an id) when the target belongs to a person's record."""
    code = ACTIVITY.get(interaction, "UPDATE")
    provenance: dict[str, Any] = {
        "resourceType": "Provenance",
        "target": [{"reference": target}],
        "recorded": to_instant(recorded_us),
        "activity": {"coding": [{"system": _ACTIVITY_SYSTEM, "code": code}]},
        "agent": [_agent("author", {"reference": f"Device/{principal.client_id}",
                                    "identifier": {"system": CLIENT_ID_SYSTEM,
                                                   "value": principal.client_id}},
                         principal.ods)],
    }
    if principal.user_id:  # a person signed in to the app: they entered it through it
        who = {"identifier": {"system": USER_SYSTEM, "value": principal.user_id}}
        provenance["agent"].append(_agent("enterer", who, principal.ods))
    about_patient(provenance, patient)
    return provenance


def about_patient(provenance: dict[str, Any], patient: str | None) -> None:
    """Say (in place) which person's record the Provenance's target belongs to."""
    if not patient:
        return
    kept = [e for e in provenance.get("extension") or [] if isinstance(e, dict)
            and e.get("url") != PATIENT_EXTENSION]
    provenance["extension"] = [*kept, {"url": PATIENT_EXTENSION,
                                       "valueReference": {"reference": f"Patient/{patient}"}}]


def _agent(kind: str, who: dict[str, Any], ods: str) -> dict[str, Any]:
    return {"type": {"coding": [{"system": _AGENT_TYPE, "code": kind}]}, "who": who,
            "onBehalfOf": {"identifier": {"system": ODS_SYSTEM, "value": ods}}}
