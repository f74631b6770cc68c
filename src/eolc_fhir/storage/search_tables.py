"""Search result snapshots: the ordered ids of a sorted search, for stable paging."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from eolc_fhir.storage.tables import metadata

__all__ = ["search_snapshots"]

# A sorted search's order can change while a client pages through it (a plan's
# date is edited); its pages therefore come from the order as it was at page one.
search_snapshots = Table(
    "search_snapshots",
    metadata,
    Column("snapshot_id", String(36), primary_key=True),
    Column("pos", Integer, primary_key=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Index(None, "created_us"),
)
