"""Readiness: the database answers and its schema is at the newest migration."""

from __future__ import annotations

from eolc_fhir.services.context import ServerContext
from eolc_fhir.storage import migrate

__all__ = ["readiness"]


async def readiness(ctx: ServerContext) -> tuple[bool, str]:
    try:
        current = await migrate.current_revision(ctx.db)
    except Exception as exc:  # any failure to reach the database means not ready
        return False, f"database unreachable ({type(exc).__name__})"
    head = migrate.head_revision()
    if current != head:
        return False, f"schema at {current}, migrations head is {head}"
    return True, f"schema at {current}"
