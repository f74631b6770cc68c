"""Every row of every table, to show that a refused write stored nothing at all.

The audit log is left out: every request, a refused one too, adds its record
there before it is answered (tests/api/test_audit.py checks those)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from eolc_fhir.storage import schema
from eolc_fhir.storage.database import Database

__all__ = ["snapshot"]

_AUDIT_TABLES = ("audit_log", "audit_ref")
Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(db: Database) -> Snapshot:
    out: Snapshot = {}
    async with db.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name in _AUDIT_TABLES:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            out[table.name] = [tuple(r) for r in await conn.execute(select(table).order_by(*order))]
    return out
