"""Withdrawn consent to share, Subscription ownership, and what Bundles may show."""

from __future__ import annotations

from typing import Any

from tests.builders import make_care_plan, make_consent_to_share, make_register_flag
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

PATIENT = "consent-patient"
REF = {"reference": f"Patient/{PATIENT}"}
WITHDRAWAL = {"coding": [{"system": "http://snomed.info/sct", "code": "882941000000102",
                          "display": "Withdrawal of consent for sharing end of life care "
                                     "coordination record"}]}


async def _create(secure: SecureApp, headers: dict[str, str], resource: dict[str, Any]) -> str:
    response = await secure.http.post(f"/{resource['resourceType']}", json=resource,
                                      headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _ids(secure: SecureApp, headers: dict[str, str], query: str) -> set[str]:
    response = await secure.http.get(query, headers=headers)
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])
            if e["resource"]["resourceType"] != "OperationOutcome"}


async def test_withdrawn_consent_hides_the_record_from_other_organisations(
        secure: SecureApp) -> None:
    gp, hospital = await secure.headers("gp"), await secure.headers("hospital")
    ambulance, admin = await secure.headers("ambulance"), await secure.headers("admin")
    put = await secure.http.put(f"/Patient/{PATIENT}",
                                json={"resourceType": "Patient", "id": PATIENT}, headers=gp)
    assert put.status_code == 201
    plan = await _create(secure, gp, make_care_plan(subject=REF))
    flag = await _create(secure, hospital, make_register_flag(subject=REF))
    await _create(secure, gp, make_consent_to_share(patient=REF))
    assert (await secure.http.get(f"/CarePlan/{plan}", headers=ambulance)).status_code == 200

    withdrawal = await _create(secure, gp, make_consent_to_share(
        patient=REF, category=[WITHDRAWAL], dateTime="2026-06-01T09:00:00Z"))

    # Only the recording organisation (and admin) still sees each resource.
    for headers, visible in ((gp, 200), (admin, 200), (ambulance, 403), (hospital, 403)):
        response = await secure.http.get(f"/CarePlan/{plan}", headers=headers)
        assert response.status_code == visible, response.text
    refused = await secure.http.get(f"/CarePlan/{plan}", headers=ambulance)
    assert "withdrawn consent" in refused.json()["issue"][0]["diagnostics"]
    assert (await secure.http.get(f"/Flag/{flag}", headers=hospital)).status_code == 200
    assert (await secure.http.get(f"/Flag/{flag}", headers=gp)).status_code == 403
    assert (await secure.http.get(f"/CarePlan/{plan}/_history/1", headers=hospital)
            ).status_code == 403
    # Searches leave them out; the Patient and the withdrawal itself stay visible.
    assert await _ids(secure, ambulance, f"/CarePlan?subject=Patient/{PATIENT}") == set()
    assert await _ids(secure, gp, f"/CarePlan?subject=Patient/{PATIENT}") == {plan}
    assert await _ids(secure, admin, f"/Flag?subject=Patient/{PATIENT}") == {flag}
    assert withdrawal in await _ids(secure, ambulance, f"/Consent?patient=Patient/{PATIENT}")
    assert (await secure.http.get(f"/Patient/{PATIENT}", headers=ambulance)).status_code == 200
    # ... and an update by another organisation is refused too.
    update = await secure.http.put(f"/CarePlan/{plan}", json={**make_care_plan(subject=REF),
                                                              "id": plan}, headers=hospital)
    assert update.status_code == 403
    conditional = await secure.http.put(f"/CarePlan?_id={plan}", json=make_care_plan(
        subject=REF), headers=hospital)
    assert conditional.status_code == 403

    # Consent given again, later: the record is shared again.
    await _create(secure, gp, make_consent_to_share(patient=REF, dateTime="2026-07-01T09:00:00Z"))
    assert (await secure.http.get(f"/CarePlan/{plan}", headers=ambulance)).status_code == 200
    assert await _ids(secure, ambulance, f"/CarePlan?subject=Patient/{PATIENT}") == {plan}


async def test_includes_never_show_a_type_the_token_cannot_read(secure: SecureApp) -> None:
    gp = await secure.headers("gp")
    await secure.http.put(f"/Patient/{PATIENT}", json={"resourceType": "Patient", "id": PATIENT},
                          headers=gp)
    plan = await _create(secure, gp, make_care_plan(subject=REF))
    narrow = await secure.headers("gp", scope="system/CarePlan.rs")
    response = await secure.http.get("/CarePlan?_include=CarePlan:subject", headers=narrow)
    assert response.status_code == 200
    types = {e["resource"]["resourceType"] for e in response.json()["entry"]}
    assert types == {"CarePlan"}
    wide = await _ids(secure, gp, "/CarePlan?_include=CarePlan:subject")
    assert wide == {plan, PATIENT}  # the full gp token does see the included Patient
    search = await secure.http.get("/?_type=CarePlan,Provenance", headers=narrow)
    assert {e["resource"]["resourceType"] for e in search.json()["entry"]} <= {"CarePlan"}
