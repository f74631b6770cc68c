"""Who may evaluate measures, and what the audit trail keeps of it (authentication on)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from eolc_fhir.cli import main
from eolc_fhir.security.client_side import new_private_key, public_jwks
from tests.api.measure_cohort import PERIOD
from tests.builders import make_patient, make_place_of_death
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

pytestmark = pytest.mark.engines("sqlite")  # roles and audit do not depend on the engine
URL = "/Measure/deaths-in-hospital/$evaluate-measure"


async def _one_death(secure: SecureApp) -> None:
    """One person who died in hospital in the period, recorded by their GP practice."""
    gp = await secure.headers("gp")
    patient = {**make_patient(deceasedDateTime="2026-08-10T10:00:00Z"), "id": "dead-1"}
    assert (await secure.http.put("/Patient/dead-1", content=orjson.dumps(patient),
                                  headers=gp)).status_code == 201
    death = make_place_of_death(subject={"reference": "Patient/dead-1"},
                                effectiveDateTime="2026-08-10T10:00:00Z")
    death["valueCodeableConcept"]["coding"][0]["code"] = "10"
    assert (await secure.http.post("/Observation", content=orjson.dumps(death),
                                   headers=gp)).status_code == 201


async def _get(secure: SecureApp, role: str, **params: str) -> Any:
    headers = await secure.headers(role)
    return await secure.http.get(URL, params={**PERIOD, **params}, headers=headers)


async def test_a_commissioner_sees_counts_but_never_patients(secure: SecureApp) -> None:
    await _one_death(secure)
    summary = await _get(secure, "commissioner")
    assert summary.status_code == 200, summary.text
    assert [p["count"] for p in summary.json()["group"][0]["population"]] == [1, 1, 1]
    for report_type in ("subject-list", "subject"):
        params = {"reportType": report_type}
        if report_type == "subject":
            params["subject"] = "Patient/dead-1"
        refused = await _get(secure, "commissioner", **params)
        assert refused.status_code == 403, refused.text
    headers = await secure.headers("commissioner")
    assert (await secure.http.get("/Patient/dead-1", headers=headers)).status_code == 403
    assert (await secure.http.get("/Observation", headers=headers)).status_code == 403
    assert (await secure.http.get("/Measure/deaths-in-hospital",
                                  headers=headers)).status_code == 200
    assert (await secure.http.get("/MeasureReport", headers=headers)).status_code == 200


async def test_which_roles_may_evaluate(secure: SecureApp) -> None:
    await _one_death(secure)
    assert (await _get(secure, "ambulance")).status_code == 403
    assert (await _get(secure, "care-home")).status_code == 403
    assert (await _get(secure, "gp")).status_code == 200
    listed = await _get(secure, "coordination-centre", reportType="subject-list")
    assert listed.status_code == 200, listed.text
    assert {c["id"] for c in listed.json()["contained"]} >= {"group0-numerator"}


def _events(entries: list[dict[str, Any]], client: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in entries if e["resource"]["resourceType"] == "AuditEvent"
            and e["resource"]["agent"][0]["altId"] == client
            and e["resource"]["subtype"][0]["code"] == "operation"]


async def test_evaluations_are_audited(secure: SecureApp) -> None:
    await _one_death(secure)
    assert (await _get(secure, "commissioner", subject="Organization/gp-practice-1")
            ).status_code == 400  # no such Organization stored: refused, and audited
    assert (await _get(secure, "commissioner")).status_code == 200
    assert (await _get(secure, "coordination-centre", reportType="subject-list")
            ).status_code == 200
    admin = await secure.headers("admin", client_id="auditor")
    entries = (await secure.http.get("/AuditEvent?_count=500", headers=admin)).json()["entry"]
    summary = [e for e in _events(entries, "test-commissioner") if e["outcome"] == "0"]
    assert len(summary) == 1
    whats = {x["what"]["reference"] for x in summary[0]["entity"] if "what" in x}
    assert whats == {"Measure/deaths-in-hospital"}  # the measure, and no patient
    query = next(x["query"] for x in summary[0]["entity"] if "query" in x)
    assert base64.b64decode(query).decode() == "periodStart=2026-07-01&periodEnd=2026-09-30"
    listed = _events(entries, "test-coordination-centre")
    whats = {x["what"]["reference"] for x in listed[0]["entity"] if "what" in x}
    assert whats == {"Measure/deaths-in-hospital", "Patient/dead-1"}


def test_clients_add_takes_the_commissioner_role(tmp_path: Path) -> None:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(public_jwks(new_private_key())))
    assert main(["clients", "add", "--client-id", "icb-1", "--name", "Riverside ICB",
                 "--ods", "QRV01", "--role", "commissioner", "--jwks-file", str(jwks),
                 "--database-url", f"sqlite+aiosqlite:///{tmp_path}/cli.db"]) == 0
