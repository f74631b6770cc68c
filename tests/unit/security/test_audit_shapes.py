"""AuditEvent and Provenance shapes, the compartment rule and Bundle filtering (pure)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any

from eolc_fhir.fhir.models import model_class
from eolc_fhir.security.audit import AuditRecord, audit_event, logged_event
from eolc_fhir.security.compartment import consent_state, is_consent_to_share, patient_of
from eolc_fhir.security.principal import Principal
from eolc_fhir.security.provenance import PATIENT_EXTENSION, provenance_for
from eolc_fhir.security.scopes import parse_scopes
from eolc_fhir.security.visibility import filter_bundle
from eolc_fhir.storage.security_repo import Origin


def test_audit_event_is_a_valid_r4_audit_event_in_balp_shape() -> None:
    record = AuditRecord("search-type", 1_796_000_000_000_000, 200, "amb-1", "RYC01", "req-1",
                         remote="10.0.0.7", resources=["Flag/f1/_history/2"],
                         patients=["p1", "p1"], query="identifier=x|1")
    event = audit_event(record)
    model_class("AuditEvent").model_validate(event)  # base R4 structure holds
    assert event["type"]["code"] == "rest"
    assert event["subtype"][0] == {"system": "http://hl7.org/fhir/restful-interaction",
                                   "code": "search-type", "display": "search-type"}
    assert event["action"] == "E" and event["outcome"] == "0"
    assert event["agent"][0]["network"] == {"address": "10.0.0.7", "type": "2"}
    roles = [e["role"]["code"] for e in event["entity"]]
    assert roles == ["1", "4", "24"]  # one patient (deduplicated), the resource, the query
    assert base64.b64decode(event["entity"][2]["query"]) == b"identifier=x|1"
    denied = audit_event(AuditRecord("update", 1, 403, None, None, "r", detail="no"))
    assert denied["action"] == "U" and denied["outcome"] == "4"
    assert denied["outcomeDesc"] == "HTTP 403: no"
    assert denied["agent"][0]["who"]["reference"] == "Device/anonymous"


def test_a_logged_record_reads_as_an_audit_event_with_its_log_id() -> None:
    record = AuditRecord("operation", 1_796_000_000_000_000, 200, "amb-1", "RYC01", "req-2",
                         role="ambulance", patients=["p1"], resources=["Flag/f1/_history/2"],
                         id=42)
    event = logged_event(record)
    model_class("AuditEvent").model_validate(event)
    assert event["id"] == "42" and event["resourceType"] == "AuditEvent"
    assert event["meta"] == {"versionId": "1", "lastUpdated": event["recorded"]}
    assert event["action"] == "E"  # derived from the interaction


def test_provenance_is_a_valid_r4_provenance() -> None:
    principal = Principal("gp-1", "Y01234", "gp", parse_scopes("system/*.rs"), 0.0)
    provenance = provenance_for("CarePlan/c1/_history/3", "update", 1_796_000_000_000_000,
                                principal)
    model_class("Provenance").model_validate(provenance)
    assert provenance["activity"]["coding"][0]["code"] == "UPDATE"
    assert "extension" not in provenance and len(provenance["agent"]) == 1


def test_provenance_names_the_person_signed_in_and_the_record_it_is_about() -> None:
    principal = Principal("eolc-console", "CC001", "coordination-centre",
                          parse_scopes("system/*.rs"), 0.0, user_id="nurse")
    provenance = provenance_for("Flag/f1/_history/1", "create", 1_796_000_000_000_000,
                                principal, "p1")
    model_class("Provenance").model_validate(provenance)
    assert provenance["extension"] == [{"url": PATIENT_EXTENSION,
                                        "valueReference": {"reference": "Patient/p1"}}]
    person = provenance["agent"][1]
    assert person["who"]["identifier"]["value"] == "nurse"
    assert person["type"]["coding"][0]["code"] == "enterer"


def test_patient_of_and_consent_codes() -> None:
    assert patient_of({"resourceType": "Patient", "id": "p"}) == "p"
    assert patient_of({"resourceType": "Flag", "subject": {"reference": "Patient/p"}}) == "p"
    assert patient_of({"resourceType": "Consent", "patient": {"reference": "Patient/q"}}) == "q"
    assert patient_of({"resourceType": "Flag", "subject": {"reference": "Group/g"}}) is None
    consent = {"resourceType": "Consent", "status": "active", "category": [{"coding": [
        {"system": "http://snomed.info/sct", "code": "882941000000102"}]}]}
    assert is_consent_to_share(consent) and consent_state(consent) == (True, True)
    adrt = {"resourceType": "Consent", "category": [{"coding": [
        {"system": "http://snomed.info/sct", "code": "816301000000100"}]}]}
    assert not is_consent_to_share(adrt)


def _bundle(kind: str, *resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "total": len(resources),
            "entry": [{"resource": r} for r in resources]}


def test_bundles_lose_what_the_caller_may_not_see() -> None:
    gp = Principal("gp-1", "Y01234", "gp", parse_scopes("system/*.rs"), 0.0)
    origins = {("Flag", "mine"): Origin("gp-1", "Y01234", "p"),
               ("Flag", "theirs"): Origin("h-1", "RH801", "p"),
               ("Subscription", "s1"): Origin("h-1", "RH801", None)}

    async def lookup(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Origin]:
        return {k: origins[k] for k in keys if k in origins}

    flag = {"resourceType": "Flag", "subject": {"reference": "Patient/p"}}
    bundle = _bundle("searchset", {**flag, "id": "mine"}, {**flag, "id": "theirs"},
                     {"resourceType": "AuditEvent", "id": "a"},
                     {"resourceType": "Subscription", "id": "s1"},
                     {"resourceType": "Patient", "id": "p"})
    changed = asyncio.run(filter_bundle(bundle, gp, frozenset({"p"}), lookup))
    assert changed
    assert [e["resource"]["id"] for e in bundle["entry"]] == ["mine", "p"]
    assert bundle["total"] == 2
    batch = _bundle("batch-response", {**flag, "id": "theirs"})
    asyncio.run(filter_bundle(batch, gp, frozenset({"p"}), lookup))
    assert batch["entry"] == [{}]  # entries keep their places in a batch response
