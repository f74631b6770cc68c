"""Re-indexing applies a search parameter added later to data already stored."""

from __future__ import annotations

from eolc_fhir.config import DEFAULT_PROFILES_DIR, Settings
from eolc_fhir.search import SearchRegistry
from eolc_fhir.services.context import ServerContext
from eolc_fhir.services.search.query import reindex
from eolc_fhir.storage.database import Database
from tests.builders import make_register_flag
from tests.storage.search_support import load, sql_ids


async def test_reindex_applies_new_parameters(migrated_url: str) -> None:
    db = Database(migrated_url)
    try:
        standard_only = SearchRegistry.load(None)  # no Flag-code yet
        flags = [make_register_flag(id=f"f{n}", status="active" if n else "inactive")
                 for n in range(3)]
        await load(db, flags, registry=standard_only)
        assert await sql_ids(db, "Flag", [("status", "active")]) == set()
        ctx = ServerContext(settings=Settings(database_url=migrated_url), db=db)
        ctx.search = SearchRegistry.load(DEFAULT_PROFILES_DIR)
        assert await reindex(ctx, ["Flag"], batch=2) == 3
        assert await sql_ids(db, "Flag", [("status", "active")]) == {"f1", "f2"}
        assert await sql_ids(db, "Flag", [("patient", "Patient/eolc-patient-1")]) == {
            "f0", "f1", "f2"}
    finally:
        await db.close()


def test_reindex_command(tmp_path: object) -> None:
    from eolc_fhir.cli import main

    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    assert main(["reindex", "--database-url", url]) == 0
    assert main(["reindex", "Flag", "--database-url", url]) == 0
