"""Each role against each interaction: a table of what the server must allow and refuse."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import make_care_plan, make_episode
from tests.security_support import SecureApp, secure, secure_settings

__all__ = ["secure", "secure_settings"]

ROLES = ("gp", "hospital", "hospice", "ambulance", "care-home", "coordination-centre", "admin")
CLINICIANS = {"gp", "hospital", "hospice"}
EVERYONE = set(ROLES)

# (case, roles that succeed, the success status); everyone else gets 403 unless noted.
TABLE: list[tuple[str, set[str], int]] = [
    ("read CarePlan", EVERYONE, 200),
    ("vread CarePlan", EVERYONE, 200),
    ("search CarePlan", EVERYONE, 200),
    ("history-instance CarePlan", EVERYONE, 200),
    ("create CarePlan", CLINICIANS, 201),
    ("update CarePlan", CLINICIANS, 200),
    ("delete CarePlan", {"admin"}, 204),
    ("create EpisodeOfCare", {"hospice", "coordination-centre"}, 201),
    ("create ValueSet", {"admin"}, 201),
    ("read Patient", EVERYONE, 200),
    ("search AuditEvent", {"admin", "coordination-centre"}, 200),
    ("history-system", {"admin", "coordination-centre"}, 200),
    ("transaction CarePlan", CLINICIANS, 200),
]
# Refused with 405 for everyone, whatever the role.
NEVER = ["update AuditEvent", "delete AuditEvent", "create AuditEvent"]


async def _seed(secure: SecureApp) -> dict[str, str]:
    gp = await secure.headers("gp", client_id="seed-gp")
    plan = await secure.http.post("/CarePlan", json=make_care_plan(), headers=gp)
    assert plan.status_code == 201, plan.text
    patient = await secure.http.post("/Patient", json={"resourceType": "Patient"}, headers=gp)
    return {"plan": plan.json()["id"], "patient": patient.json()["id"]}


def _transaction() -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:8a1c1a4e-0000-4000-8000-000000000001", "resource": make_care_plan(),
         "request": {"method": "POST", "url": "CarePlan"}}]}


async def _do(secure: SecureApp, case: str, headers: dict[str, str],
              ids: dict[str, str]) -> int:
    http, plan = secure.http, ids["plan"]
    requests: dict[str, Any] = {
        "read CarePlan": lambda: http.get(f"/CarePlan/{plan}", headers=headers),
        "vread CarePlan": lambda: http.get(f"/CarePlan/{plan}/_history/1", headers=headers),
        "search CarePlan": lambda: http.get("/CarePlan?status=active", headers=headers),
        "history-instance CarePlan": lambda: http.get(f"/CarePlan/{plan}/_history",
                                                      headers=headers),
        "create CarePlan": lambda: http.post("/CarePlan", json=make_care_plan(), headers=headers),
        "update CarePlan": lambda: http.put(f"/CarePlan/{plan}",
                                            json={**make_care_plan(), "id": plan},
                                            headers=headers),
        "delete CarePlan": lambda: http.delete(f"/CarePlan/{plan}", headers=headers),
        "create EpisodeOfCare": lambda: http.post("/EpisodeOfCare", json=make_episode(),
                                                  headers=headers),
        "create ValueSet": lambda: http.post("/ValueSet", json={
            "resourceType": "ValueSet", "status": "draft",
            "url": "https://eolc.example.org/fhir/ValueSet/test"}, headers=headers),
        "read Patient": lambda: http.get(f"/Patient/{ids['patient']}", headers=headers),
        "search AuditEvent": lambda: http.get("/AuditEvent", headers=headers),
        "history-system": lambda: http.get("/_history", headers=headers),
        "transaction CarePlan": lambda: http.post("/", json=_transaction(), headers=headers),
        "update AuditEvent": lambda: http.put("/AuditEvent/x", json={
            "resourceType": "AuditEvent", "id": "x"}, headers=headers),
        "delete AuditEvent": lambda: http.delete("/AuditEvent/x", headers=headers),
        "create AuditEvent": lambda: http.post("/AuditEvent", json={
            "resourceType": "AuditEvent"}, headers=headers),
    }
    response = await requests[case]()
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"
    return int(response.status_code)


@pytest.mark.parametrize("role", ROLES)
async def test_role_against_every_interaction(secure: SecureApp, role: str) -> None:
    ids = await _seed(secure)
    headers = await secure.headers(role, scope="system/*.cruds" if role == "admin" else None)
    wrong = []
    for case, allowed, status in TABLE:
        expected = status if role in allowed else 403
        got = await _do(secure, case, headers, ids)
        if got != expected:
            wrong.append(f"{case}: expected {expected}, got {got}")
    for case in NEVER:
        got = await _do(secure, case, headers, ids)
        if got != 405:
            wrong.append(f"{case}: expected 405, got {got}")
    assert not wrong, f"{role}: " + "; ".join(wrong)


async def test_scope_limits_a_role(secure: SecureApp) -> None:
    """A gp token that asked only for CarePlan reads can do nothing else."""
    ids = await _seed(secure)
    headers = await secure.headers("gp", scope="system/CarePlan.rs")
    assert await _do(secure, "read CarePlan", headers, ids) == 200
    assert await _do(secure, "search CarePlan", headers, ids) == 200
    assert await _do(secure, "create CarePlan", headers, ids) == 403
    assert await _do(secure, "read Patient", headers, ids) == 403
    v1 = await secure.headers("gp", scope="system/CarePlan.read")
    assert await _do(secure, "read CarePlan", v1, ids) == 200
    assert await _do(secure, "update CarePlan", v1, ids) == 403
    await secure.register("v1-gp", "gp", scopes="system/*.read system/*.write")
    v1w = await secure.headers("gp", scope="system/CarePlan.read system/CarePlan.write",
                               client_id="v1-gp")
    assert await _do(secure, "update CarePlan", v1w, ids) == 200
    assert await _do(secure, "delete CarePlan", v1w, ids) == 403  # the role still says no


async def test_transaction_entries_are_checked_one_by_one(secure: SecureApp) -> None:
    ids = await _seed(secure)
    headers = await secure.headers("gp")
    bundle = _transaction()
    bundle["entry"].append({"request": {"method": "DELETE", "url": f"CarePlan/{ids['plan']}"}})
    response = await secure.http.post("/", json=bundle, headers=headers)
    assert response.status_code == 403
    assert "Bundle.entry[1]" in response.text
    still = await secure.http.get(f"/CarePlan/{ids['plan']}", headers=headers)
    assert still.status_code == 200  # nothing of the transaction happened
    bundle["type"] = "batch"
    response = await secure.http.post("/", json=bundle, headers=headers)
    assert response.status_code == 200
    statuses = [e["response"]["status"] for e in response.json()["entry"]]
    assert statuses[0].startswith("201") and statuses[1] == "403"


async def test_patient_operations_follow_the_roles(secure: SecureApp) -> None:
    ids = await _seed(secure)
    patient = ids["patient"]
    for role, wishes, everything in (("ambulance", 200, 403), ("care-home", 200, 403),
                                     ("gp", 200, 200), ("coordination-centre", 200, 200)):
        headers = await secure.headers(role)
        response = await secure.http.get(f"/Patient/{patient}/$wishes", headers=headers)
        assert response.status_code == wishes, (role, response.text)
        response = await secure.http.get(f"/Patient/{patient}/$everything", headers=headers)
        assert response.status_code == everything, (role, response.text)
    narrow = await secure.headers("ambulance", scope="system/CarePlan.rs")
    response = await secure.http.get(f"/Patient/{patient}/$wishes", headers=narrow)
    assert response.status_code == 403  # the token cannot read Patient
