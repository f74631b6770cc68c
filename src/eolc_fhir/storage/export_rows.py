"""Stored rows for bulk export, streamed in key order from one consistent snapshot.

``ExportSnapshot`` holds one read transaction (REPEATABLE READ on PostgreSQL; a
deferred read transaction on SQLite, whose WAL keeps its view) for the whole
export, so every file sees the same state of the database. ``batches`` pages
through one type with a keyset on the primary key (``res_id > last``), a batch
per statement: memory stays flat whatever the size of the store. Rows come out
as the stored bytes; nothing is parsed here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, case, exists, null, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from eolc_fhir.storage import tables as t
from eolc_fhir.storage.errors import translated
from eolc_fhir.storage.query import Query
from eolc_fhir.storage.search_sql import match_conditions
from eolc_fhir.storage.security_repo import Origin, SecurityRepository

__all__ = ["ExportSelection", "ExportSnapshot", "export_snapshot", "COMPARTMENT_PARAMS"]

# How a resource points at the person it is about (the same rule as $everything).
COMPARTMENT_PARAMS = ("patient", "subject")


@dataclass(frozen=True)
class ExportSelection:
    """Which rows of one type: changed after ``since_us``, matching any of ``filters``;
    with ``compartment``, only resources about a patient (of ``patients`` when given)."""

    resource_type: str
    since_us: int | None = None
    filters: tuple[Query, ...] = ()
    compartment: bool = False
    patients: tuple[str, ...] | None = None


class ExportSnapshot:
    def __init__(self, conn: Any, dialect: str) -> None:
        self._conn = conn
        self.dialect = dialect

    async def types(self) -> list[str]:
        """The resource types the store holds (live or not), sorted."""
        r = t.resources
        rows = await self._conn.execute(select(r.c.res_type).distinct())
        return sorted(row[0] for row in rows)

    async def batches(self, selection: ExportSelection,
                      size: int) -> AsyncIterator[list[tuple[str, bytes]]]:
        """(id, stored JSON) of the selected live rows, ``size`` at a time, by id."""
        stmt = self._statement(selection).limit(size)
        after = ""
        while True:
            with translated():
                rows = (await self._conn.execute(stmt, {"after": after})).all()
            if not rows:
                return
            yield [(row[0], row[1]) for row in rows]
            if len(rows) < size:
                return
            after = rows[-1][0]

    def _statement(self, selection: ExportSelection) -> Any:
        r = t.resources.alias("r")
        conds: list[ColumnElement[bool]] = [
            r.c.res_type == selection.resource_type, r.c.deleted.is_(False),
            r.c.res_id > bindparam("after")]
        if selection.since_us is not None:
            conds.append(r.c.last_updated_us > selection.since_us)
        if selection.filters:
            conds.append(or_(*(and_(*match_conditions(self.dialect, q, r))
                               for q in selection.filters)))
        if selection.compartment:
            conds.append(self._about_patients(selection, r))
        return select(r.c.res_id, r.c.content).where(*conds).order_by(r.c.res_id)

    @staticmethod
    def _about_patients(selection: ExportSelection, r: Any) -> ColumnElement[bool]:
        if selection.resource_type == "Patient":
            rid: ColumnElement[str] = r.c.res_id
            if selection.patients is None:
                return rid.is_not(None)
            return rid.in_(list(selection.patients))
        x = t.idx_reference.alias("x")
        probe = [x.c.res_type == r.c.res_type, x.c.res_id == r.c.res_id,
                 x.c.param.in_(COMPARTMENT_PARAMS), x.c.target_type == "Patient"]
        if selection.patients is not None:
            probe.append(x.c.target_id.in_(list(selection.patients)))
        return exists(select(x.c.id).where(*probe))

    async def about(self, patient_ids: Sequence[str],
                    content_of: str = "Consent") -> list[tuple[str, str, bytes | None]]:
        """(type, id, stored JSON) of the live resources (not Patients) about these people;
        the JSON only for type ``content_of`` (the rest would only cost memory)."""
        r, x = t.resources.alias("r"), t.idx_reference.alias("x")
        found: dict[tuple[str, str], bytes | None] = {}
        content = case((r.c.res_type == content_of, r.c.content), else_=null())
        ids = list(patient_ids)
        for start in range(0, len(ids), 500):
            keys = (select(x.c.res_type, x.c.res_id).where(
                x.c.param.in_(COMPARTMENT_PARAMS), x.c.target_type == "Patient",
                x.c.target_id.in_(ids[start:start + 500])).distinct().subquery())
            stmt = select(r.c.res_type, r.c.res_id, content).join(
                keys, (r.c.res_type == keys.c.res_type) & (r.c.res_id == keys.c.res_id)
            ).where(r.c.deleted.is_(False), r.c.res_type != "Patient")
            with translated():
                for row in await self._conn.execute(stmt):
                    found[(row[0], row[1])] = None if row[2] is None else bytes(row[2])
        return [(k[0], k[1], v) for k, v in found.items()]

    async def origins(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Origin]:
        with translated():
            return await SecurityRepository(self._conn, self.dialect).origins(keys)

    async def withdrawn_patients(self) -> set[str]:
        """Patients whose latest active consent-to-share is a withdrawal, in this snapshot."""
        with translated():
            return await SecurityRepository(self._conn, self.dialect).withdrawn_patients()

    async def owned_ids(self, client_id: str, rtype: str,
                        user_id: str | None = None) -> set[str]:
        with translated():
            return set(await SecurityRepository(self._conn, self.dialect).owned_ids(
                client_id, rtype, user_id))


@asynccontextmanager
async def export_snapshot(engine: AsyncEngine, dialect: str) -> AsyncIterator[ExportSnapshot]:
    """One read transaction for a whole export (see the module docstring)."""
    with translated():
        conn = await engine.connect()
    try:
        if dialect == "postgresql":
            conn = await conn.execution_options(isolation_level="REPEATABLE READ")
        with translated():
            await conn.begin()
        yield ExportSnapshot(conn, dialect)
    finally:
        try:
            await conn.rollback()  # read only: nothing to keep
        finally:
            await conn.close()
