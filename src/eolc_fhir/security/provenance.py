"""Provenance of a write: target, recorded, agent = the client and its organisation."""

from __future__ import annotations

from typing import Any

from eolc_fhir.fhir.instant import to_instant
from eolc_fhir.security.audit import CLIENT_ID_SYSTEM, ODS_SYSTEM
from eolc_fhir.security.principal import Principal

__all__ = ["provenance_for", "ACTIVITY"]

_ACTIVITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
ACTIVITY = {"create": "CREATE", "update": "UPDATE", "delete": "DELETE"}
_AGENT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"


def provenance_for(target: str, interaction: str, recorded_us: int,
                   principal: Principal) -> dict[str, Any]:
    """A Provenance for ``target`` (Type/id/_history/v) written by ``principal``."""
    code = ACTIVITY.get(interaction, "UPDATE")
    return {
        "resourceType": "Provenance",
        "target": [{"reference": target}],
        "recorded": to_instant(recorded_us),
        "activity": {"coding": [{"system": _ACTIVITY_SYSTEM, "code": code}]},
        "agent": [{
            "type": {"coding": [{"system": _AGENT_TYPE, "code": "author"}]},
            "who": {"reference": f"Device/{principal.client_id}",
                    "identifier": {"system": CLIENT_ID_SYSTEM, "value": principal.client_id}},
            "onBehalfOf": {"identifier": {"system": ODS_SYSTEM, "value": principal.ods}},
        }],
    }
