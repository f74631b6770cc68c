"""Search index upkeep: live resources in key order for reindexing, and the change signal."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage import tables as t

__all__ = ["current_batch", "announce_change"]


async def current_batch(conn: AsyncConnection, resource_types: Sequence[str] | None,
                        after: tuple[str, str] | None, limit: int) -> list[tuple[str, str, bytes]]:
    """(type, id, content) of live resources in key order after ``after`` (for reindexing)."""
    r = t.resources
    stmt = select(r.c.res_type, r.c.res_id, r.c.content).where(r.c.deleted.is_(False))
    if resource_types:
        stmt = stmt.where(r.c.res_type.in_(list(resource_types)))
    if after is not None:
        stmt = stmt.where(tuple_(r.c.res_type, r.c.res_id) > tuple_(*after))
    stmt = stmt.order_by(r.c.res_type, r.c.res_id).limit(limit)
    return [(row[0], row[1], bytes(row[2])) for row in await conn.execute(stmt)]


async def announce_change(conn: AsyncConnection, dialect: str) -> None:
    """Tell readers that keep derived answers to check them (migration 0002's signal), for
    changes the ``resources`` triggers cannot see (index rows rebuilt)."""
    if dialect == "postgresql":
        await conn.execute(text("SELECT pg_notify('eolc_changes', '')"))
    else:
        await conn.execute(update(t.change_counter).where(t.change_counter.c.id == 1)
                           .values(n=t.change_counter.c.n + 1))
