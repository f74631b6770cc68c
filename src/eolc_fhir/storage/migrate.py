"""Apply and inspect Alembic migrations for either engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from eolc_fhir.storage.database import Database

__all__ = ["upgrade", "current_revision", "head_revision", "is_current", "alembic_config"]

_SCRIPTS = Path(__file__).parent / "migrations"
# PostgreSQL advisory lock key ("eolc" + "mig"): processes on any host that start at once
# take turns, so each migration runs once and the others find the schema current.
_MIGRATION_LOCK = 0x656F6C636D6967


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""

    def _run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        if db.dialect == "postgresql":  # released with the transaction
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _MIGRATION_LOCK})
        await conn.run_sync(_run)


async def current_revision(db: Database) -> str | None:
    def _get(sync_conn: Any) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_get)


async def is_current(db: Database) -> bool:
    return await current_revision(db) == head_revision()
