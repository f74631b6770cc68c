"""Migration 0003_audit_log carries stored AuditEvent resources over into the audit log."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from eolc_fhir.security.audit import AuditRecord, audit_event
from eolc_fhir.storage import migrate
from eolc_fhir.storage.database import Database

pytestmark = pytest.mark.usefixtures("engine_name")


async def test_stored_audit_events_move_into_the_log(engine_url: str) -> None:
    import orjson

    db = Database(engine_url)
    try:
        await migrate.upgrade(db, "0002")
        read = AuditRecord("read", 1_700_000_000_123_456, 200, "crew-1", "RYC", "req-read",
                           remote="10.0.0.7", patients=["p1"],
                           resources=["CarePlan/c1/_history/2"])
        search = AuditRecord("search-type", 1_700_000_001_000_000, 200, "crew-1", "RYC",
                             "req-search", query="subject=Patient/p1", patients=["p1"])
        refused = AuditRecord("batch / transaction", 1_700_000_002_000_000, 412, "gp-1",
                              "Y01", "req-batch", detail="version conflict")
        async with db.engine.begin() as conn:
            for n, record in enumerate((read, search, refused)):
                content = orjson.dumps({**audit_event(record), "id": f"a{n}"})
                await conn.execute(text(
                    "INSERT INTO resources (res_type, res_id, version, last_updated_us, "
                    "deleted, content) VALUES ('AuditEvent', :id, 1, 1, :no, :c)"),
                    {"id": f"a{n}", "no": False, "c": content})
                await conn.execute(text(
                    "INSERT INTO idx_token (res_type, res_id, param, system, code) "
                    "VALUES ('AuditEvent', :id, 'type', 's', 'rest')"), {"id": f"a{n}"})
        await migrate.upgrade(db)
        async with db.unit_of_work(write=False) as uow:
            moved = {r.request_id: r for r in await uow.audit.by_request(
                ["req-read", "req-search", "req-batch"])}
            assert await uow.resources.get_current("AuditEvent", "a0") is None
            left = await uow.connection.execute(text(
                "SELECT count(*) FROM idx_token WHERE res_type = 'AuditEvent'"))
            assert left.scalar() == 0
        got = moved["req-read"]
        assert (got.interaction, got.action, got.status, got.client_id, got.ods, got.remote) == \
            ("read", "R", 200, "crew-1", "RYC", "10.0.0.7")
        assert got.recorded_us == read.recorded_us
        assert (got.patients, got.resources) == (["p1"], ["CarePlan/c1/_history/2"])
        assert moved["req-search"].query == "subject=Patient/p1"
        failed = moved["req-batch"]
        assert (failed.interaction, failed.status, failed.detail) == \
            ("batch / transaction", 412, "version conflict")
    finally:
        await db.close()
