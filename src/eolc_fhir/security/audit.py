"""AuditEvent in the shape of IHE Basic Audit Log Patterns (R4), built from audit records.

One audit record per request (storage/audit_repo.py, table ``audit_log``); read
back as an AuditEvent: type ``rest``, subtype the interaction, action C/R/U/D/E,
outcome, the client (as ``Device/<id>``) and its organisation (ODS code), this
server as the source, the patient(s) and resources touched, and the query of a
search. ``AuditWriter`` is how the API layer hands a record over: it returns
once the record is committed (services/audit_trail.py).
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from eolc_fhir.fhir.instant import to_instant
from eolc_fhir.fhir.strings import printable
from eolc_fhir.storage.audit_repo import ACTIONS, AuditRecord

__all__ = ["AuditRecord", "AuditWriter", "audit_event", "logged_event", "ACTIONS",
           "SUBTYPES", "CLIENT_ID_SYSTEM", "USER_SYSTEM", "SEARCH_PARAMS"]

CLIENT_ID_SYSTEM = "https://eolc.example.org/fhir/Id/client-id"
USER_SYSTEM = "https://eolc.example.org/fhir/Id/user"  # a local account's username
ROLE_SYSTEM = "https://eolc.example.org/fhir/CodeSystem/eolc-role"
_ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
_EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
               "code": "rest", "display": "Restful Operation"}
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_DCM = "http://dicom.nema.org/resources/ontology/DCM"
SUBTYPES = {"conditional update": "update", "conditional delete": "delete",
            "search-type": "search-type", "batch / transaction": "batch"}


# The AuditEvent search parameters the log answers (services/search/audit_log.py): name -> (type,
# what it matches). The CapabilityStatement lists exactly these.
SEARCH_PARAMS = {
    "patient": ("reference", "a Patient among the entities"),
    "entity": ("reference", "a resource among the entities (any version)"),
    "agent": ("reference", "the client, Device/<client id>"),
    "altid": ("token", "the client id"),
    "date": ("date", "when it was recorded (eq ge le gt lt)"),
    "type": ("token", "always rest"),
    "subtype": ("token", "the interaction (read, search-type, operation, create, ...)"),
    "action": ("token", "C R U D E"),
    "outcome": ("token", "0 success, 4 refused or failed, 8 server error"),
}


class AuditWriter(Protocol):
    async def write(self, record: AuditRecord) -> None:
        """Return once ``record`` is committed; raise if it could not be."""


def _outcome(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def _person(record: AuditRecord) -> dict[str, Any]:
    """The signed-in person who made the request through an app (people's sign-in)."""
    user = printable(record.user_id or "")
    person: dict[str, Any] = {
        "type": {"coding": [{"system": _ROLE_TYPE, "code": "humanuser", "display": "human user"}]},
        "who": {"identifier": {"system": USER_SYSTEM, "value": user}, "display": user},
        "altId": user,
        "requestor": True,
    }
    if record.role:
        person["role"] = [{"coding": [{"system": ROLE_SYSTEM, "code": record.role}]}]
    return person


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    client = record.client_id or "anonymous"
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": _DCM, "code": "110150", "display": "Application"}]},
        "who": {"reference": f"Device/{client}",
                "identifier": {"system": CLIENT_ID_SYSTEM, "value": client}},
        "altId": client,
        "requestor": record.user_id is None,
    }
    if record.remote:
        agent["network"] = {"address": printable(record.remote), "type": "2"}
    agents = [agent] if record.user_id is None else [_person(record), agent]
    if record.ods:
        agents.append({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass",
                                 "code": "PROV", "display": "healthcare provider"}]},
            "who": {"identifier": {"system": ODS_SYSTEM, "value": record.ods}},
            "requestor": False,
        })
    return agents


def _entity(reference: str, code: str, role: str, role_display: str) -> dict[str, Any]:
    return {"what": {"reference": printable(reference)},
            "type": {"system": _ENTITY_TYPE, "code": code,
                     "display": "Person" if code == "1" else "System Object"},
            "role": {"system": _OBJECT_ROLE, "code": role, "display": role_display}}


def _entities(record: AuditRecord) -> list[dict[str, Any]]:
    found = [_entity(f"Patient/{p}", "1", "1", "Patient") for p in dict.fromkeys(record.patients)]
    found += [_entity(r, "2", "4", "Domain Resource") for r in dict.fromkeys(record.resources)]
    if record.query is not None:
        query: dict[str, Any] = {
            "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
            "role": {"system": _OBJECT_ROLE, "code": "24", "display": "Query"}}
        if record.query:  # a search without parameters: FHIR JSON has no empty strings
            query["query"] = base64.b64encode(record.query.encode()).decode("ascii")
        found.append(query)
    return found


def audit_event(record: AuditRecord, *, server_name: str = "eolc-fhir") -> dict[str, Any]:
    subtype = SUBTYPES.get(record.interaction, record.interaction)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _EVENT_TYPE,
        "subtype": [{"system": _INTERACTION, "code": subtype, "display": subtype}],
        "action": record.action,
        "recorded": to_instant(record.recorded_us),
        "outcome": _outcome(record.status),
        "agent": _agents(record),
        "source": {"site": server_name, "observer": {"display": server_name},
                   "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                             "code": "4", "display": "Application Server"}]},
        "extension": [{"url": "https://eolc.example.org/fhir/StructureDefinition/eolc-request-id",
                       "valueString": record.request_id}],
    }
    if record.status >= 400:
        event["outcomeDesc"] = f"HTTP {record.status}" + (f": {printable(record.detail)}"
                                                          if record.detail else "")
    entities = _entities(record)
    if entities:
        event["entity"] = entities
    return event


def logged_event(record: AuditRecord, *, server_name: str = "eolc-fhir") -> dict[str, Any]:
    """The AuditEvent resource of a stored record: its id is the record's place in the log."""
    event = audit_event(record, server_name=server_name)
    recorded = event["recorded"]
    return {"resourceType": "AuditEvent", "id": str(record.id),
            "meta": {"versionId": "1", "lastUpdated": recorded},
            **{k: v for k, v in event.items() if k != "resourceType"}}
