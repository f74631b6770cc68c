"""Store and read search result snapshots (the order of a sorted search at page one)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage.query import Query
from eolc_fhir.storage.search_sql import page_statement
from eolc_fhir.storage.search_tables import search_snapshots as snap

__all__ = ["sorted_ids", "save_snapshot", "snapshot_slice"]


async def sorted_ids(conn: AsyncConnection, dialect: str, query: Query, limit: int) -> list[str]:
    """Up to ``limit`` matching ids in the query's sort order (no content)."""
    stmt = page_statement(dialect, query, count=limit - 1, with_content=False)
    return [row[0] for row in await conn.execute(stmt)]


async def save_snapshot(conn: AsyncConnection, snapshot_id: str, resource_type: str,
                        ids: Sequence[str], now_us: int, keep_us: int) -> None:
    """Record the order; snapshots older than ``keep_us`` go at the same time."""
    await conn.execute(delete(snap).where(snap.c.created_us < now_us - keep_us))
    rows = [{"snapshot_id": snapshot_id, "pos": pos, "res_type": resource_type, "res_id": rid,
             "created_us": now_us} for pos, rid in enumerate(ids)]
    if rows:
        await conn.execute(insert(snap), rows)


async def snapshot_slice(conn: AsyncConnection, snapshot_id: str, offset: int,
                         limit: int) -> list[tuple[str, str]] | None:
    """(type, id) at positions [offset, offset + limit); None when the snapshot is gone."""
    stmt = (select(snap.c.res_type, snap.c.res_id)
            .where(snap.c.snapshot_id == snapshot_id, snap.c.pos >= offset)
            .order_by(snap.c.pos).limit(limit))
    rows = [(row[0], row[1]) for row in await conn.execute(stmt)]
    if rows:
        return rows
    exists = select(func.count()).where(snap.c.snapshot_id == snapshot_id)
    return [] if (await conn.execute(exists)).scalar_one() else None
