"""Every row of every table, to show that a refused write stored nothing at all.

Left out: the audit log (every request, a refused one too, adds its record there before
it is answered; tests/api/test_audit.py checks those) and, on PostgreSQL, the rate limit
counts that every process adds to the shared window in the background, whatever the
request's outcome (security/ratelimit.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from eolc_fhir.storage import schema
from eolc_fhir.storage.database import Database

__all__ = ["snapshot"]

_NOT_DATA = ("audit_log", "audit_ref", "security_rate_windows")
Snapshot = dict[str, list[tuple[Any, ...]]]


async def snapshot(db: Database) -> Snapshot:
    out: Snapshot = {}
    async with db.engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name in _NOT_DATA:
                continue
            order = list(table.primary_key.columns) or list(table.columns)
            out[table.name] = [tuple(r) for r in await conn.execute(select(table).order_by(*order))]
    return out
