"""AuditEvent in the shape of IHE Basic Audit Log Patterns (R4), and the read-audit queue.

One AuditEvent per request that touches patient data: type ``rest``, subtype
the interaction, action C/R/U/D/E, outcome, the client (as ``Device/<id>``)
and its organisation (ODS code), this server as the source, the patient(s)
and resources touched, and the query of a search.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

import orjson

from eolc_fhir.fhir.instant import to_instant
from eolc_fhir.fhir.strings import printable

__all__ = ["AuditRecord", "audit_event", "AuditQueue", "ACTIONS", "CLIENT_ID_SYSTEM"]

CLIENT_ID_SYSTEM = "https://eolc.example.org/fhir/Id/client-id"
ODS_SYSTEM = "https://fhir.nhs.uk/Id/ods-organization-code"
_EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
               "code": "rest", "display": "Restful Operation"}
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACTIONS = {"create": "C", "read": "R", "vread": "R", "history-instance": "R", "update": "U",
           "conditional update": "U", "patch": "U", "delete": "D", "conditional delete": "D"}
_SUBTYPES = {"conditional update": "update", "conditional delete": "delete",
             "search-type": "search-type", "batch / transaction": "batch"}


@dataclass
class AuditRecord:
    """The facts of one audited request."""

    interaction: str
    recorded_us: int
    status: int
    client_id: str | None
    ods: str | None
    request_id: str
    remote: str | None = None
    resources: list[str] = field(default_factory=list)  # Type/id or Type/id/_history/v
    patients: list[str] = field(default_factory=list)  # Patient ids
    query: str | None = None
    detail: str | None = None  # why it failed


def _outcome(status: int) -> str:
    return "0" if status < 400 else "4" if status < 500 else "8"


def _agents(record: AuditRecord) -> list[dict[str, Any]]:
    client = record.client_id or "anonymous"
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": _DCM, "code": "110150", "display": "Application"}]},
        "who": {"reference": f"Device/{client}",
                "identifier": {"system": CLIENT_ID_SYSTEM, "value": client}},
        "altId": client,
        "requestor": True,
    }
    if record.remote:
        agent["network"] = {"address": printable(record.remote), "type": "2"}
    agents = [agent]
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
    subtype = _SUBTYPES.get(record.interaction, record.interaction)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": _EVENT_TYPE,
        "subtype": [{"system": _INTERACTION, "code": subtype, "display": subtype}],
        "action": ACTIONS.get(record.interaction, "E"),
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


class AuditQueue:
    """Read audits wait here until the flusher writes them in one transaction.

    Whatever is queued when the process dies is lost: at most what arrived
    since the last flush (writes are audited in their own transaction). The
    queue is bounded: above ``high_water`` events, requests wait in ``room``
    for the flusher to catch up (back-pressure), so a read load faster than
    the audit trail can be written slows down instead of growing memory and
    the amount a crash could lose.
    """

    def __init__(self, batch_size: int = 200, high_water: int = 1000) -> None:
        # Kept as JSON bytes: ~6 KB each, where the dicts took several times that.
        self._items: list[bytes] = []
        self.batch_size = batch_size
        self.high_water = high_water
        self.wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.stopping = False
        self.in_flight = 0  # taken by a flush, not yet written or put back

    def put(self, event: dict[str, Any]) -> None:
        self._items.append(orjson.dumps(event))
        if len(self._items) >= self.batch_size:
            self.wake.set()
        if len(self._items) >= self.high_water:
            self._room.clear()

    async def room(self) -> None:
        """Return once the queue is below its high-water mark (at once, usually)."""
        while not self._room.is_set() and not self.stopping:
            self.wake.set()
            await self._room.wait()

    def take(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The oldest ``limit`` events (all by default), removed from the queue."""
        if limit is None or limit >= len(self._items):
            items, self._items = self._items, []
        else:
            items, self._items = self._items[:limit], self._items[limit:]
        if len(self._items) < self.batch_size:
            self.wake.clear()
        self.in_flight += len(items)
        return [orjson.loads(item) for item in items]

    def requeue(self, events: list[dict[str, Any]]) -> None:
        """Put back events a failed flush took, ahead of the newer ones."""
        self.in_flight -= len(events)
        self._items = [orjson.dumps(e) for e in events] + self._items

    def written(self, count: int) -> None:
        """The flusher committed ``count`` events it took: waiting requests may go on."""
        self.in_flight -= count
        if len(self._items) < self.high_water:
            self._room.set()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self._room.set()

    def __len__(self) -> int:
        return len(self._items)
