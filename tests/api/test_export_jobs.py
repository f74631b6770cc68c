"""`$export` jobs: the consent rule, the audit trail, a restart mid-job, and retention."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from eolc_fhir.fhir.instant import now_us
from tests.api.test_export import _ids, _put, _region, secure, secure_settings
from tests.builders import make_consent_to_share
from tests.export_support import (
    download_all,
    export,
    export_settings,
    kick_off,
    poll,
    stored_counts,
)
from tests.security_support import SecureApp, secure_app

__all__ = ["secure", "secure_settings"]

WITHDRAWAL = {"coding": [{"system": "http://snomed.info/sct", "code": "882941000000102",
                          "display": "Withdrawal of consent for sharing end of life care "
                                     "coordination record"}]}


async def _searched(secure: SecureApp, headers: dict[str, str], rtype: str) -> set[str]:
    response = await secure.http.get(f"/{rtype}?_count=500", headers=headers)
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])
            if e["resource"]["resourceType"] == rtype}


@pytest.mark.engines("sqlite")
async def test_withdrawn_consent_hides_the_same_rows_as_a_search(secure: SecureApp) -> None:
    await _region(secure)
    gp, cc = await secure.headers("gp"), await secure.headers("coordination-centre")
    admin = await secure.headers("admin")
    p3 = {"reference": "Patient/p3"}
    await _put(secure, gp, make_consent_to_share(id="c-p3", patient=p3, category=[WITHDRAWAL],
                                                 dateTime="2026-06-01T09:00:00Z"))
    _, found = await export(secure, cc, "/$export?_type=Patient,Flag,CarePlan,Consent")
    exported = _ids(found)
    assert ("Flag", "reg-p3") not in exported and ("Flag", "cpr-p3") not in exported
    assert {("Patient", "p3"), ("Consent", "c-p3"), ("Flag", "reg-p1")} <= exported
    for rtype in ("Patient", "Flag", "CarePlan", "Consent"):  # exactly what a search shows
        assert {i for t, i in exported if t == rtype} == await _searched(secure, cc, rtype)
    _, everything = await export(secure, admin, "/$export?_type=Flag")
    assert len(everything["Flag"]) == 6  # admin sees every record


@pytest.mark.engines("sqlite")
async def test_every_export_request_is_audited(secure: SecureApp, monkeypatch: Any) -> None:
    await _region(secure)
    cc = await secure.headers("coordination-centre")
    manifest, _ = await export(secure, cc, "/Group/register/$export?_type=Patient")
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        rows = (await uow.connection.execute(text(
            "SELECT interaction, action, status, query, patients FROM audit_log "
            "WHERE client_id = 'test-coordination-centre' AND query LIKE '$export%' "
            "ORDER BY id"))).all()
    kinds = [(r.interaction, r.query.split(" ")[1] if " " in r.query else "") for r in rows]
    assert kinds[0] == ("operation", "_type=Patient") and rows[0].status == 202
    assert rows[0].patients == "p1 p2"  # the Group's members
    assert {k for k, _ in kinds} == {"operation"} and ("operation", "status") in kinds
    download = rows[-1]
    assert download.query.startswith("$export file ") and download.status == 200
    assert download.patients == "p1 p2"  # the people in the downloaded Patient file
    assert manifest["output"][0]["type"] == "Patient"

    # No audit record, no file: a 503 OperationOutcome instead of the first byte.
    from eolc_fhir.storage.database import Database

    async def broken(self: Any, records: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Database, "append_audit", broken)
    refused = await secure.http.get(manifest["output"][0]["url"].removeprefix("http://test"),
                                    headers=cc)
    assert refused.status_code == 503 and refused.headers["retry-after"]
    assert refused.json()["resourceType"] == "OperationOutcome"
    assert '"Patient"' not in refused.text


_app = secure_app


async def _job(secure: SecureApp, job_id: str) -> Any:
    async with secure.ctx.db.unit_of_work(write=False) as uow:
        return await uow.exports.get(job_id)


async def test_a_job_interrupted_by_a_restart_completes_after_it(
        migrated_url: str, tmp_path: Path) -> None:
    """A process died mid-job (lease still held, half a file on disk): the next start
    runs the job again from scratch; polls never see a manifest before that; its files
    expire and are removed by the sweep."""
    stopped = export_settings(migrated_url, tmp_path, run_exports=False)
    async with _app(stopped) as first:
        await _region(first)
        cc = await first.headers("coordination-centre")
        status_url = await kick_off(first.http, cc, "/$export?_type=Patient,Flag")
        job_id = status_url.rsplit("/", 1)[1]
        waiting = await first.http.get(status_url, headers=cc)
        assert waiting.status_code == 202 and waiting.headers["x-progress"]
        async with first.ctx.db.unit_of_work() as uow:
            await uow.connection.execute(text(
                "UPDATE export_jobs SET status = 'running', locked_by = 'dead-host-1', "
                "attempts = 1, locked_until_us = :t WHERE job_id = :j"),
                {"t": now_us() + 400_000, "j": job_id})
        half = Path(stopped.export_dir) / job_id / "Patient-1.ndjson"
        half.parent.mkdir(parents=True)
        half.write_bytes(b'{"resourceType":"Patient","id":"p1"}\n{"resourceTy')
        assert (await first.http.get(status_url, headers=cc)).status_code == 202

    restarted = export_settings(migrated_url, tmp_path, export_retention_seconds=1.0)
    async with _app(restarted) as second:
        second.keys = first.keys
        manifest = await poll(second.http, cc, status_url)  # once the dead lease ran out
        found = await download_all(second.http, cc, manifest)
        counts = await stored_counts(second)
        assert {t: len(r) for t, r in found.items()} == {t: counts[t] for t in ("Patient",
                                                                                  "Flag")}
        assert (await _job(second, job_id)).attempts == 2
        assert sorted(p.name for p in half.parent.glob("*.ndjson")) == sorted(
            o["url"].rsplit("/", 1)[1] for o in manifest["output"])
        for _ in range(100):  # retention 1 s, sweep every 0.2 s
            if not half.parent.exists():
                break
            await asyncio.sleep(0.05)
        assert not half.parent.exists()
        assert (await second.http.get(status_url, headers=cc)).status_code == 404
        assert await _job(second, job_id) is None


@pytest.mark.engines("sqlite")
async def test_a_job_that_keeps_dying_fails_cleanly(migrated_url: str, tmp_path: Path) -> None:
    async with _app(export_settings(migrated_url, tmp_path, run_exports=False)) as first:
        cc = await first.headers("coordination-centre")
        status_url = await kick_off(first.http, cc, "/$export?_type=Patient")
        async with first.ctx.db.unit_of_work() as uow:
            await uow.connection.execute(text(
                "UPDATE export_jobs SET status = 'running', attempts = 3, locked_by = 'gone', "
                "locked_until_us = 0"))
    async with _app(export_settings(migrated_url, tmp_path)) as second:
        second.keys = first.keys
        for _ in range(100):
            response = await second.http.get(status_url, headers=cc)
            if response.status_code != 202:
                break
            await asyncio.sleep(0.05)
        assert response.status_code == 500, response.text
        assert response.json()["resourceType"] == "OperationOutcome"
        assert "interrupted" in response.text
        assert "manifest" not in response.text and "output" not in response.text


@pytest.mark.engines("sqlite")
async def test_without_authentication_no_token_is_required(migrated_url: str,
                                                           tmp_path: Path) -> None:
    async with _app(export_settings(migrated_url, tmp_path, insecure_dev=True)) as dev:
        await dev.http.put("/Practitioner/dr-b", json={"resourceType": "Practitioner",
                                                       "id": "dr-b"})
        manifest, found = await export(dev, {}, "/$export?_type=Practitioner")
        assert manifest["requiresAccessToken"] is False
        assert _ids(found) == {("Practitioner", "dr-b")}
