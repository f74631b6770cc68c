"""Alembic migrations build exactly the schema the code declares, on both engines."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from eolc_fhir.storage import migrate
from eolc_fhir.storage.database import Database
from eolc_fhir.storage.schema import metadata

pytestmark = pytest.mark.usefixtures("engine_name")


async def test_migrations_match_the_declared_schema(engine_url: str) -> None:
    db = Database(engine_url)
    try:
        assert await migrate.current_revision(db) is None
        await migrate.upgrade(db)
        assert await migrate.is_current(db)

        def diff(sync_conn: Any) -> list[Any]:
            return list(compare_metadata(MigrationContext.configure(sync_conn), metadata))

        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
        assert differences == [], "tables changed without a migration: add one"
        await migrate.upgrade(db)  # idempotent
    finally:
        await db.close()


@pytest.mark.engines("postgresql")
async def test_postgresql_knows_how_the_token_keys_depend(migrated_url: str) -> None:
    """Migration 0009: without these statistics a register-wide token test was estimated
    at a handful of rows and chosen to drive searches (see the migration)."""
    from sqlalchemy import text

    db = Database(migrated_url)
    try:
        async with db.engine.connect() as conn:
            found = (await conn.execute(text(
                "SELECT stxname, stxkind FROM pg_statistic_ext"))).all()
        # stxkind: f = functional dependencies, m = most common values ("char": bytes)
        assert [(name, sorted(bytes(k).decode() for k in kinds)) for name, kinds in found] == \
            [("idx_token_keys", ["f", "m"])]
    finally:
        await db.close()
