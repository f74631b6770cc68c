"""Assembling a $wishes document: the Composition, its entries, the Device and warnings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from html import escape
from typing import Any

import orjson

from eolc_fhir import __version__
from eolc_fhir.fhir.bundle import BundleEntry, assemble_bundle
from eolc_fhir.fhir.instant import now_us, to_instant
from eolc_fhir.fhir.nhs_number import NHS_NUMBER_SYSTEM
from eolc_fhir.services.wishes.parts import (
    BASE,
    WARNING_SYSTEM,
    WARNINGS,
    Found,
    Section,
    Warning,
    div,
    ref,
)
from eolc_fhir.storage.model import Row

__all__ = ["compose"]

_DEVICE_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{BASE}/Device/eolc-fhir"))


def _device() -> dict[str, Any]:
    return {
        "resourceType": "Device",
        "id": _DEVICE_ID,
        "status": "active",
        "deviceName": [{"name": "eolc-fhir", "type": "user-friendly-name"}],
        "type": {"text": "FHIR server of the regional end-of-life care record"},
        "version": [{"value": __version__}],
    }


def _detected_issue(warning: Warning, subject: dict[str, Any], stamp: str) -> dict[str, Any]:
    display, severity = WARNINGS[warning.code]
    return {
        "resourceType": "DetectedIssue",
        "id": str(uuid.uuid4()),
        "status": "final",
        "code": {"coding": [{"system": WARNING_SYSTEM, "code": warning.code,
                             "display": display}]},
        "severity": severity,
        "patient": ref(subject),
        "identifiedDateTime": stamp,
        "author": {"reference": f"urn:uuid:{_DEVICE_ID}"},
        **({"implicated": warning.implicated} if warning.implicated else {}),
        "detail": warning.detail,
    }


def _warnings_section(issues: list[dict[str, Any]], warnings: list[Warning]) -> dict[str, Any]:
    section = Section("warnings", [], []).as_fhir()
    if not warnings:
        section["text"]["div"] = div(["No warnings."])
        return section
    lines = [f"<b>{WARNINGS[w.code][0]}</b>: {_escape(w.detail)}." for w in warnings]
    section["text"]["div"] = div(lines)
    section.pop("emptyReason", None)
    section["entry"] = [{"reference": f"urn:uuid:{i['id']}"} for i in issues]
    return section


def _escape(text: str) -> str:
    return escape(text, quote=False)


def _title(patient: dict[str, Any], died: str | None) -> str:
    name = (patient.get("name") or [{}])[0]
    who = " ".join([*(name.get("given") or []), name.get("family", "")]).strip() or "unnamed"
    number = next((i.get("value", "") for i in patient.get("identifier") or []
                   if i.get("system") == NHS_NUMBER_SYSTEM), "")
    nhs = f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == 10 else "unknown"
    title = (f"End of life emergency summary: {who}, born {patient.get('birthDate', 'unknown')}, "
             f"NHS number {nhs}")
    return f"DECEASED ({died}). {title}" if died else title


def compose(base_url: str, patients: list[dict[str, Any]], found: Found,
              sections: list[Section], warnings: list[Warning], rows: Sequence[Row],
              extra: Sequence[Row], died: str | None = None) -> bytes:
    """The document Bundle; ``died`` (what is known of a death) heads the title."""
    subject, stamp = patients[0], to_instant(now_us())
    issues = [_detected_issue(w, subject, stamp) for w in warnings]
    composition = {
        "resourceType": "Composition",
        "id": str(uuid.uuid4()),
        "status": "final",
        "type": {"coding": [{"system": f"{BASE}/CodeSystem/eolc-concepts",
                             "code": "end-of-life-emergency-summary",
                             "display": "End-of-life emergency summary"}]},
        "subject": ref(subject),
        "date": stamp,
        "author": [{"reference": f"urn:uuid:{_DEVICE_ID}", "display": "eolc-fhir"}],
        "title": _title(subject, died),
        "confidentiality": "R",
        "section": [_warnings_section(issues, warnings), *(s.as_fhir() for s in sections)],
    }
    stored = {(r.resource_type, r.id): r.content for r in (*rows, *extra)}
    keys = [(p["resourceType"], p["id"]) for p in patients]
    keys += [(e["resourceType"], e["id"]) for s in sections for e in s.entries]
    entries = [BundleEntry({"fullUrl": f"urn:uuid:{composition['id']}"},
                           orjson.dumps(composition))]
    for key in dict.fromkeys(keys):
        if key in stored:
            entries.append(BundleEntry({"fullUrl": f"{base_url}/{key[0]}/{key[1]}"},
                                       stored[key]))
    for generated in (_device(), *issues):
        entries.append(BundleEntry({"fullUrl": f"urn:uuid:{generated['id']}"},
                                   orjson.dumps(generated)))
    head = {"identifier": {"system": f"{BASE}/Id/wishes-document", "value": str(uuid.uuid4())},
            "timestamp": stamp}
    return assemble_bundle("document", entries, extra=head)
