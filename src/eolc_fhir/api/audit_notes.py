"""What a route tells the audit record about its answer, so the body need not be parsed.

The security middleware (api/guard.py) writes one audit record per request; a route
names the people its answer is about (and the resources it holds, when it knows
them) through these, in the request's security context.
"""

from __future__ import annotations

from eolc_fhir.security.principal import current

__all__ = ["record_patients", "record_export", "record_query"]


def record_export(what: str, patient_ids: list[str] | None = None, *,
                  stream: bool = False) -> None:
    """Audit an export request as an ``operation`` that names ``what`` it did and the people
    it is about; ``stream``: the answer is a file, sent as it is read once audited."""
    rc = current.get()
    if rc is not None:
        rc.interaction = "operation"
        rc.resources, rc.decided = [], True
        rc.patients = list(patient_ids or [])
        rc.extra["audit_query"] = what
        rc.extra["stream"] = stream


def record_patients(patient_ids: list[str], resources: list[str] | None = None, *,
                    decided: bool = False, query: str | None = None,
                    compartment: bool = False) -> None:
    """Name the people an answer is about (and, when the service knows them, the resources
    it holds), for its audit record: then the body need not be parsed to find them.
    ``decided``: the operation decided the answer's visibility whole (a $wishes document),
    so the Bundle is not filtered either. ``query``: the operation's parameters, recorded
    as the audit's query entity (a measure and its period). ``compartment``: every resource
    named that has a patient is one of these people's (found through their ``patient`` /
    ``subject`` references, as a $wishes document's are), so the audit log finds them
    through the people (storage/audit_repo.audit_refs)."""
    rc = current.get()
    if rc is not None:
        rc.patients = list(patient_ids)
        if compartment:
            rc.extra["audit_compartment"] = True
        if resources is not None:
            rc.resources, rc.decided = list(resources), decided
        if query is not None:
            rc.extra["audit_query"] = query


def record_query(query: str) -> None:
    """The operation and its parameters, as the audit's query entity (``$status status=error``)."""
    rc = current.get()
    if rc is not None:
        rc.extra["audit_query"] = query
