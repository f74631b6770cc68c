"""Bulk Data `$export` driven as a bulk client does: kick off, poll, download, parse, count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from eolc_fhir.config import Settings
from tests.builders import (
    VALID_NHS_NUMBERS,
    make_care_plan,
    make_cpr_flag,
    make_patient,
    make_register_flag,
)
from tests.export_support import (
    ASYNC,
    export,
    export_settings,
    poll,
    stored_counts,
)
from tests.security_support import SecureApp, secure

__all__ = ["secure"]  # the fixture, with this module's secure_settings

PEOPLE = ("p1", "p2", "p3")


@pytest.fixture
def secure_settings(migrated_url: str, tmp_path: Path) -> Settings:
    return export_settings(migrated_url, tmp_path)




async def _put(secure: SecureApp, headers: dict[str, str], resource: dict[str, Any]) -> None:
    response = await secure.http.put(f"/{resource['resourceType']}/{resource['id']}",
                                     json=resource, headers=headers)
    assert response.status_code in (200, 201), response.text


async def _region(secure: SecureApp) -> None:
    """Three people, each with a register flag and a CPR decision, and a practice register."""
    gp = await secure.headers("gp")
    for n, pid in enumerate(PEOPLE):
        ref = {"reference": f"Patient/{pid}"}
        identifier = make_patient()["identifier"]
        identifier[0]["value"] = VALID_NHS_NUMBERS[n]
        await _put(secure, gp, make_patient(id=pid, identifier=identifier))
        await _put(secure, gp, make_register_flag(id=f"reg-{pid}", subject=ref))
        await _put(secure, gp, make_cpr_flag(id=f"cpr-{pid}", subject=ref))
        if n == 0:
            await _put(secure, gp, make_care_plan(id=f"plan-{pid}", subject=ref))
    await _put(secure, gp, {"resourceType": "Practitioner", "id": "dr-a",
                            "name": [{"family": "A"}]})
    await _put(secure, gp, {"resourceType": "Group", "id": "register", "type": "person",
                            "actual": True, "member": [
                                {"entity": {"reference": "Patient/p1"}},
                                {"entity": {"reference": "Patient/p2"}}]})


def _ids(found: dict[str, list[dict[str, Any]]]) -> set[tuple[str, str]]:
    return {(r["resourceType"], r["id"]) for rows in found.values() for r in rows}


async def test_system_export_holds_every_stored_resource(secure: SecureApp) -> None:
    await _region(secure)
    cc = await secure.headers("coordination-centre")
    manifest, found = await export(secure, cc, "/$export?_outputFormat=application/fhir%2Bndjson")
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"] == "http://test/$export?_outputFormat=application/fhir%2Bndjson"
    assert manifest["transactionTime"].endswith("Z") and manifest["error"] == []
    # Every live resource of the store, each once, split into files of at most 3 lines.
    assert {t: len(rows) for t, rows in found.items()} == dict(await stored_counts(secure))
    assert len(_ids(found)) == sum(len(rows) for rows in found.values())
    flags = [o for o in manifest["output"] if o["type"] == "Flag"]
    assert [o["count"] for o in flags] == [3, 3] and flags[0]["url"] != flags[1]["url"]

    # Files are the asking client's alone: another coordination centre gets nothing.
    other = await secure.headers("coordination-centre", client_id="cc-other")
    status_url = manifest["output"][0]["url"].rsplit("/", 1)[0].removeprefix("http://test")
    for url in (status_url, manifest["output"][0]["url"].removeprefix("http://test")):
        assert (await secure.http.get(url, headers=other)).status_code == 404
        assert (await secure.http.get(url)).status_code == 401
    assert (await secure.http.delete(status_url, headers=other)).status_code == 404

    # DELETE cancels and removes the files; the job is gone.
    folder = Path(secure.ctx.settings.export_dir) / status_url.rsplit("/", 1)[1]
    assert folder.is_dir() and any(folder.iterdir())
    deleted = await secure.http.delete(status_url, headers=cc)
    assert deleted.status_code == 202, deleted.text
    assert not folder.exists()
    assert (await secure.http.get(status_url, headers=cc)).status_code == 404
    url = manifest["output"][0]["url"].removeprefix("http://test")
    assert (await secure.http.get(url, headers=cc)).status_code == 404


async def test_patient_group_type_since_and_type_filter(secure: SecureApp) -> None:
    await _region(secure)
    cc = await secure.headers("coordination-centre")
    _, everyone = await export(secure, cc, "/Patient/$export")
    # What is about a person (the Provenance of each write too); no Practitioner, no Group.
    assert set(everyone) == {"Patient", "Flag", "CarePlan", "Provenance"}
    assert len(everyone["Patient"]) == 3 and len(everyone["Flag"]) == 6

    _, register = await export(secure, cc, "/Group/register/$export?_type=Patient,Flag")
    assert _ids(register) == {("Patient", "p1"), ("Patient", "p2"), ("Flag", "reg-p1"),
                              ("Flag", "cpr-p1"), ("Flag", "reg-p2"), ("Flag", "cpr-p2")}

    _, filtered = await export(secure, cc, "/$export?_type=Flag,Patient"
                               "&_typeFilter=Flag%3Fsubject%3DPatient/p3,Flag%3F_id%3Dreg-p1")
    assert _ids(filtered) == {("Flag", "reg-p3"), ("Flag", "cpr-p3"), ("Flag", "reg-p1"),
                              *(("Patient", p) for p in PEOPLE)}

    since = max(r["meta"]["lastUpdated"] for rows in everyone.values() for r in rows)
    gp = await secure.headers("gp")
    await _put(secure, gp, make_cpr_flag(id="cpr-p2", subject={"reference": "Patient/p2"},
                                         status="inactive"))
    _, changed = await export(secure, cc, f"/$export?_type=Flag&_since={since}")
    assert _ids(changed) == {("Flag", "cpr-p2")}
    assert changed["Flag"][0]["status"] == "inactive"
    unknown = await secure.http.get("/Group/nobody/$export", headers={**cc, **ASYNC})
    assert unknown.status_code == 404


@pytest.mark.engines("sqlite")
async def test_refusals_name_what_is_wrong(secure: SecureApp) -> None:
    cc = await secure.headers("coordination-centre")
    cases = [
        ({}, "/$export", 400, "Prefer"),
        (ASYNC, "/$export?_outputFormat=text/csv", 400, "_outputFormat"),
        (ASYNC, "/$export?_elements=id", 400, "_elements"),
        (ASYNC, "/$export?_type=Nonsense", 400, "_type"),
        (ASYNC, "/$export?_typeFilter=Flag%3Fnope%3D1", 400, "_typeFilter"),
        (ASYNC, "/$export?_typeFilter=Flag%3F_count%3D1", 400, "_typeFilter"),
        (ASYNC, "/$export?_since=yesterday", 400, "_since"),
    ]
    for extra, url, status, named in cases:
        response = await secure.http.get(url, headers={**cc, **extra})
        assert response.status_code == status, (url, response.text)
        assert named in response.text, (url, response.text)
    lenient = await secure.http.get("/$export?_outputFormat=text/csv&_elements=id",
                                    headers={**cc, "Prefer": "respond-async, handling=lenient"})
    assert lenient.status_code == 202, lenient.text
    assert [i["severity"] for i in lenient.json()["issue"]] == ["information", "warning",
                                                                "warning"]
    manifest = await poll(secure.http, cc, lenient.headers["content-location"].removeprefix(
        "http://test"))
    errors = await secure.http.get(manifest["error"][0]["url"].removeprefix("http://test"),
                                   headers=cc)
    assert [line.count(b'"warning"') for line in errors.content.splitlines()] == [1, 1]
    for ok in ("application/ndjson", "ndjson"):
        response = await secure.http.get(f"/$export?_outputFormat={ok}", headers={**cc, **ASYNC})
        assert response.status_code in (202, 429), response.text
    # Roles: only admin and the coordination centre export; a gp is refused at every level.
    gp = await secure.headers("gp")
    for url in ("/$export", "/Patient/$export", "/Group/register/$export"):
        response = await secure.http.get(url, headers={**gp, **ASYNC})
        assert response.status_code == 403, (url, response.text)
    assert (await secure.http.post("/$export", headers={**cc, **ASYNC})).status_code == 405


@pytest.mark.engines("sqlite")
async def test_types_the_client_may_not_read(secure: SecureApp) -> None:
    await _region(secure)
    narrow = await secure.headers("coordination-centre",
                                  scope="system/Patient.rs system/Flag.rs")
    refused = await secure.http.get("/$export?_type=Patient,CarePlan",
                                    headers={**narrow, **ASYNC})
    assert refused.status_code == 403 and "CarePlan" in refused.text
    manifest, found = await export(secure, narrow, "/$export")
    assert set(found) == {"Patient", "Flag"}
    assert [e["type"] for e in manifest["error"]] == ["OperationOutcome"]
    errors = await secure.http.get(manifest["error"][0]["url"].removeprefix("http://test"),
                                   headers=narrow)
    assert errors.status_code == 200 and "CarePlan was left out" in errors.text


@pytest.mark.engines("sqlite")
async def test_capability_statement_declares_the_bulk_operations(secure: SecureApp) -> None:
    statement = (await secure.http.get("/metadata")).json()
    bulk = "http://hl7.org/fhir/uv/bulkdata"
    assert f"{bulk}/CapabilityStatement/bulk-data" in statement["instantiates"]
    assert {"name": "export", "definition": f"{bulk}/OperationDefinition/export"} in \
        statement["rest"][0]["operation"]
    by_type = {r["type"]: r for r in statement["rest"][0]["resource"]}
    for rtype, name in (("Patient", "patient-export"), ("Group", "group-export")):
        assert {"name": "export", "definition": f"{bulk}/OperationDefinition/{name}"} in \
            by_type[rtype]["operation"]
