"""After a bulk load: what the database needs before it serves traffic."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["analyze"]


async def analyze(engine: AsyncEngine, dialect: str) -> None:
    """After a bulk load on PostgreSQL: statistics for the planner, and a vacuum now (sets the
    visibility map for index-only scans) rather than autovacuum's later, mid-traffic."""
    if dialect != "postgresql":
        return
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
