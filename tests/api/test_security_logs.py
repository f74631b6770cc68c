"""A full run over the demo region: the logs carry ids, never the people's names or NHS numbers."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from eolc_fhir.demo.loader import load_region
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

NHS = "https://fhir.nhs.uk/Id/nhs-number"


def _secrets(patients: list[dict[str, Any]]) -> set[str]:
    found = set()
    for patient in patients:
        for name in patient.get("name", []):
            found.update(n for n in [name.get("family"), *name.get("given", [])] if n)
        found.update(i["value"] for i in patient.get("identifier", []) if i["system"] == NHS)
    return found


@pytest.mark.engines("sqlite")
async def test_logs_of_a_full_run_name_no_one(secure: SecureApp,
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="eolc_fhir")
    await load_region(secure.ctx, patients=4, seed=7)
    admin, gp = await secure.headers("admin"), await secure.headers("gp")
    ambulance = await secure.headers("ambulance")
    bundle = (await secure.http.get("/Patient?_count=100", headers=admin)).json()
    patients = [e["resource"] for e in bundle["entry"]]
    secrets = _secrets(patients)
    assert len(secrets) >= 8
    statuses: list[int] = []
    for patient in patients:
        numbers = [i["value"] for i in patient.get("identifier", []) if i["system"] == NHS]
        if numbers:
            query = f"identifier={NHS}|{numbers[0]}"
            wishes = await secure.http.get(f"/Patient/$wishes?{query}", headers=ambulance)
            statuses.append(wishes.status_code)
            await secure.http.get(f"/Patient?{query}", headers=gp)
        await secure.http.get(f"/Patient/{patient['id']}/$everything", headers=gp)
        await secure.http.get(f"/CarePlan?subject=Patient/{patient['id']}", headers=ambulance)
        family = patient["name"][0]["family"]
        await secure.http.get(f"/Patient?name={family}", headers=gp)
        await secure.http.put(f"/Patient/{patient['id']}", json={**patient, "gender": "x"},
                              headers=gp)  # refused: not a FHIR gender code
        await secure.http.post("/Patient", json=patient, headers=ambulance)  # refused: role
    assert statuses.count(200) >= 4, statuses
    await secure.http.get("/Patient?name=anything", headers={"Authorization": "Bearer junk"})
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in records)
    assert "client=test-ambulance" in text and "status=200" in text
    leaked = sorted(s for s in secrets if s in text)
    assert not leaked, f"patient data in the logs: {leaked}"
