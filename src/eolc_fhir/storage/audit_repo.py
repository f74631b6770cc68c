"""The narrow door to the audit log: append records, read one, search, purge.

Never commits: the caller's unit of work does (a write's audit commits with the
write; read audits commit in the group commits of ``security/audit_writer``).
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from eolc_fhir.storage.audit_tables import audit_log, audit_ref
from eolc_fhir.storage.sqlite_driver import in_one_hop

__all__ = ["ACTIONS", "AuditRecord", "AuditQuery", "AuditRepository", "ref_key", "audit_row",
           "audit_refs", "SHARED_TYPES"]


# The AuditEvent.action of each interaction (C R U D; E for the rest: searches, operations).
ACTIONS = {"create": "C", "read": "R", "vread": "R", "history-instance": "R", "update": "U",
           "conditional update": "U", "patch": "U", "conditional patch": "U", "delete": "D",
           "conditional delete": "D"}


@dataclass
class AuditRecord:
    """The facts of one audited request (``id``: its place in the log, once stored)."""

    interaction: str
    recorded_us: int
    status: int
    client_id: str | None
    ods: str | None
    request_id: str
    remote: str | None = None
    resources: list[str] = field(default_factory=list)  # Type/id or Type/id/_history/v
    patients: list[str] = field(default_factory=list)  # Patient ids
    query: str | None = None
    detail: str | None = None  # why it failed
    role: str | None = None
    user_id: str | None = None
    action: str = ""  # derived from the interaction unless given
    id: int | None = None
    # Not stored. True when every resource named that has a patient was found through the
    # patients' own references (a $wishes document): audit_refs then leaves those resources
    # out, and a search for one finds the record through its patients (AuditQuery.via).
    compartment: bool = False

    def __post_init__(self) -> None:
        if not self.action:
            self.action = ACTIONS.get(self.interaction, "E")


@dataclass
class AuditQuery:
    """What an AuditEvent search asks of the log; every list is an OR, lists are ANDed."""

    refs: list[list[str]] = field(default_factory=list)  # each: any of these references
    # A reference of ``refs`` -> the "Patient/<id>" its resource has ever been about: a
    # compartment record that named it is found through them (audit_refs).
    via: dict[str, list[str]] = field(default_factory=dict)
    clients: list[str] | None = None
    interactions: list[str] | None = None
    actions: list[str] | None = None
    statuses: list[tuple[int, int]] | None = None  # [low, high) ranges of HTTP status
    dates: list[tuple[str, int]] = field(default_factory=list)  # (op, µs): lt le gt ge
    before_id: int | None = None  # keyset: older than this record (newest first)
    limit: int = 50


def ref_key(reference: str) -> str:
    """The searchable form of a reference: without its version."""
    return reference.split("/_history/", 1)[0]


def _text(values: Sequence[str]) -> str | None:
    return " ".join(dict.fromkeys(values)) if values else None


def audit_row(record: AuditRecord) -> dict[str, Any]:
    """The ``audit_log`` columns of a record (all but its id)."""
    return {"recorded_us": record.recorded_us, "client_id": record.client_id,
            "role": record.role, "ods": record.ods, "user_id": record.user_id,
            "interaction": record.interaction[:32], "action": record.action,
            "status": record.status, "request_id": record.request_id,
            "remote": record.remote[:64] if record.remote else None,
            "patients": _text(record.patients), "resources": _text(record.resources),
            "query": record.query, "detail": record.detail}


def _record(row: Any) -> AuditRecord:
    m = row._mapping
    return AuditRecord(
        interaction=m["interaction"], recorded_us=m["recorded_us"], status=m["status"],
        client_id=m["client_id"], ods=m["ods"], request_id=m["request_id"],
        remote=m["remote"], resources=(m["resources"] or "").split(),
        patients=(m["patients"] or "").split(), query=m["query"], detail=m["detail"],
        role=m["role"], user_id=m["user_id"], action=m["action"], id=m["id"])


# Types a person's record points at but that are nobody's record (a practice, a clinician):
# always indexed, since no patient leads to them.
SHARED_TYPES = frozenset({"Patient", "Organization", "Practitioner", "PractitionerRole",
                          "Location", "HealthcareService", "Device", "Endpoint"})


def audit_refs(record: AuditRecord, *, every: bool = False) -> list[str]:
    """Its ``audit_ref`` references: each patient and resource once, without versions.

    A ``compartment`` record (a $wishes document: a dozen resources of one person) keeps
    only its patients and the shared resources: each reference lands at its own place in
    the index, a page written per reference, and they were most of what an audited read
    wrote (PostgreSQL's CPU per audited ``$wishes``: 149 µs with them, 58 µs without). A
    search for one of the others goes through its patients (``AuditQuery.via``).
    ``every``: all of them, whatever was kept (the purge deletes by these keys)."""
    skip = record.compartment and bool(record.patients) and not every
    found = [f"Patient/{p}" for p in record.patients]
    found += [ref_key(r) for r in record.resources
              if not skip or r.split("/", 1)[0] in SHARED_TYPES]
    return [r for r in dict.fromkeys(found) if len(r) <= 200]


_DATE_OPS = {"lt": "__lt__", "le": "__le__", "gt": "__gt__", "ge": "__ge__"}


class AuditRepository:
    """Append-only: nothing here updates a record; ``purge`` removes the oldest."""

    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def append(self, records: Sequence[AuditRecord]) -> None:
        """Store the records (one multi-row INSERT); sets each record's ``id``."""
        if not records:
            return
        if self.dialect == "sqlite":  # one hop; SQLAlchemy would insert them one by one
            await in_one_hop(self.conn, functools.partial(sqlite_insert, records=records))
            return
        stmt = insert(audit_log).returning(audit_log.c.id, sort_by_parameter_order=True)
        result = await self.conn.execute(stmt, [audit_row(r) for r in records])
        refs: list[dict[str, Any]] = []
        for record, (new_id,) in zip(records, result.all(), strict=True):
            record.id = int(new_id)
            refs += [{"ref": ref, "audit_id": record.id} for ref in audit_refs(record)]
        if refs:
            await self.conn.execute(insert(audit_ref), refs)

    async def get(self, audit_id: int) -> AuditRecord | None:
        row = (await self.conn.execute(
            select(audit_log).where(audit_log.c.id == audit_id))).first()
        return _record(row) if row is not None else None

    async def by_request(self, request_ids: Sequence[str]) -> list[AuditRecord]:
        """The records of these request ids (operations and tests)."""
        stmt = select(audit_log).where(audit_log.c.request_id.in_(list(request_ids)))
        return [_record(row) for row in await self.conn.execute(stmt)]

    async def search(self, query: AuditQuery) -> list[AuditRecord]:
        """Matching records, newest first, at most ``limit + 1`` (the extra one says
        there is a next page)."""
        stmt = self._where(select(audit_log), query)
        stmt = stmt.order_by(audit_log.c.id.desc()).limit(query.limit + 1)
        return [_record(row) for row in await self.conn.execute(stmt)]

    async def count(self, query: AuditQuery) -> int:
        stmt = self._where(select(func.count()).select_from(audit_log), query)
        return int((await self.conn.execute(stmt)).scalar_one())

    def _where(self, stmt: Select[Any], query: AuditQuery) -> Select[Any]:
        t = audit_log.c
        for any_of in query.refs:
            found: list[ColumnElement[bool]] = [
                t.id.in_(select(audit_ref.c.audit_id).where(audit_ref.c.ref.in_(any_of)))]
            found += [and_(t.id.in_(select(audit_ref.c.audit_id)
                                    .where(audit_ref.c.ref.in_(query.via[ref]))),
                           _names(t.resources, ref))
                      for ref in any_of if query.via.get(ref)]
            stmt = stmt.where(or_(*found))
        if query.clients is not None:
            stmt = stmt.where(t.client_id.in_(query.clients))
        if query.interactions is not None:
            stmt = stmt.where(t.interaction.in_(query.interactions))
        if query.actions is not None:
            stmt = stmt.where(t.action.in_(query.actions))
        if query.statuses is not None:
            stmt = stmt.where(or_(*[and_(t.status >= low, t.status < high)
                                    for low, high in query.statuses]))
        for op, value in query.dates:
            stmt = stmt.where(getattr(t.recorded_us, _DATE_OPS[op])(value))
        if query.before_id is not None:
            stmt = stmt.where(t.id < query.before_id)
        return stmt

    async def purge(self, recorded_before_us: int, *, batch: int = 5000) -> int:
        """Remove up to ``batch`` of the oldest records recorded before the instant (and
        their references); how many. Oldest first, by id: the log is append-only, so ids
        follow recording time closely."""
        t = audit_log.c
        rows = (await self.conn.execute(
            select(t.id, t.patients, t.resources).where(t.recorded_us < recorded_before_us)
            .order_by(t.id).limit(batch))).all()
        if not rows:
            return 0
        keys = [{"r": ref, "a": audit_id} for audit_id, patients, resources in rows
                for ref in audit_refs(AuditRecord("", 0, 0, None, None, "",
                                                  patients=(patients or "").split(),
                                                  resources=(resources or "").split()),
                                      every=True)]
        if keys:  # by key: audit_ref has no other index
            r = audit_ref.c
            await self.conn.execute(
                delete(audit_ref).where(r.ref == bindparam("r"), r.audit_id == bindparam("a")),
                keys)
        await self.conn.execute(delete(audit_log).where(t.id.in_([row[0] for row in rows])))
        return len(rows)


def _names(resources: Any, ref: str) -> ColumnElement[bool]:
    """The record's space-separated ``resources`` name ``ref`` (any version). Ids and type
    names hold no ``%`` or ``_``; ``_history``'s ``_`` is escaped."""
    spaced = literal(" ").concat(resources).concat(" ")
    return or_(spaced.like(f"% {ref} %"), spaced.like(f"% {ref}/!_history/%", escape="!"))


AUDIT_COLUMNS = ("recorded_us", "client_id", "role", "ods", "user_id", "interaction", "action",
                 "status", "request_id", "remote", "patients", "resources", "query", "detail")
_SQLITE_INSERT = (f"INSERT INTO audit_log ({', '.join(AUDIT_COLUMNS)}) "
                  f"VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})")


def sqlite_insert(conn: sqlite3.Connection, records: Sequence[AuditRecord]) -> None:
    """``append`` on a sqlite3 connection already in a transaction; sets each ``id``.
    SQLite does not promise a multi-row RETURNING's order: one INSERT per record."""
    ids = []
    for record in records:
        row = audit_row(record)
        cursor = conn.execute(_SQLITE_INSERT, [row[c] for c in AUDIT_COLUMNS])
        ids.append(int(cursor.lastrowid or 0))
    refs = [(ref, new_id) for record, new_id in zip(records, ids, strict=True)
            for ref in audit_refs(record)]
    if refs:
        conn.executemany("INSERT INTO audit_ref (ref, audit_id) VALUES (?, ?)", refs)
    for record, new_id in zip(records, ids, strict=True):
        record.id = new_id
