"""audit log: compact append-only audit records replace stored AuditEvent resources

Revision ID: 0003_audit_log
Revises: 0002
Create Date: 2026-12-05 20:45:00

Every audited request becomes one ``audit_log`` row (and one ``audit_ref`` row
per patient or resource it touched) instead of a full AuditEvent resource with
its history row and ~65 index rows. ``GET /AuditEvent`` builds the R4 resources
from the rows.

The AuditEvents already stored (the shape of ``security/audit.audit_event``) are
carried over into the log, in batches, and then removed from ``resources``,
``resource_history`` and the index tables. Their old resource ids are not kept:
the log numbers its records itself (the request id of each stays in the record).
The downgrade drops the log and does not rebuild AuditEvent resources from it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0003_audit_log"
down_revision = "0002"
branch_labels = None
depends_on = None

_SeqInt = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_INDEX_TABLES = ("idx_token", "idx_string", "idx_reference", "idx_date", "idx_number",
                 "idx_quantity", "idx_uri")
_BATCH = 1000
_INTERACTIONS = {"update": "update", "delete": "delete", "batch": "batch / transaction"}


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", _SeqInt, autoincrement=True, nullable=False),
        sa.Column("recorded_us", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("ods", sa.String(length=16), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("interaction", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=1), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("remote", sa.String(length=64), nullable=True),
        sa.Column("patients", sa.Text(), nullable=True),
        sa.Column("resources", sa.Text(), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_recorded_us", "audit_log", ["recorded_us"])
    op.create_index("ix_audit_log_client_id_id", "audit_log", ["client_id", "id"])
    op.create_table(
        "audit_ref",
        sa.Column("ref", sa.String(length=200), nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ref", "audit_id", name=op.f("pk_audit_ref")),
        sqlite_with_rowid=False,
    )
    _carry_over(op.get_bind())


def downgrade() -> None:
    op.drop_table("audit_ref")
    op.drop_table("audit_log")


def _carry_over(conn: Any) -> None:
    """Stored AuditEvent resources → log rows, oldest first, then gone from resources."""
    log = sa.table("audit_log", *[sa.column(c) for c in (
        "id", "recorded_us", "client_id", "ods", "interaction", "action", "status",
        "request_id", "remote", "patients", "resources", "query", "detail")])
    refs = sa.table("audit_ref", sa.column("ref"), sa.column("audit_id"))
    after = ""
    while True:
        rows = conn.execute(sa.text(
            "SELECT res_id, content FROM resources WHERE res_type = 'AuditEvent' "
            "AND res_id > :after ORDER BY res_id LIMIT :n"),
            {"after": after, "n": _BATCH}).all()
        if not rows:
            break
        after = rows[-1][0]
        records = [r for r in (_record(content) for _, content in rows) if r is not None]
        records.sort(key=lambda r: r["recorded_us"])
        for record in records:
            keys = record.pop("_refs")
            new_id = conn.execute(sa.insert(log).values(**record).returning(log.c.id)).scalar()
            if keys:
                conn.execute(sa.insert(refs), [{"ref": k, "audit_id": new_id} for k in keys])
    for table in ("resource_history", "resources", *_INDEX_TABLES):
        conn.execute(sa.text(f"DELETE FROM {table} WHERE res_type = 'AuditEvent'"))


def _record(content: Any) -> dict[str, Any] | None:
    try:
        event = orjson.loads(bytes(content))
        agent = (event.get("agent") or [{}])[0]
        ods = None
        for other in (event.get("agent") or [])[1:]:
            ods = ((other.get("who") or {}).get("identifier") or {}).get("value") or ods
        subtype = ((event.get("subtype") or [{}])[0]).get("code") or "unknown"
        patients, resources, query = [], [], None
        for entity in event.get("entity") or []:
            role = (entity.get("role") or {}).get("code")
            ref = (entity.get("what") or {}).get("reference")
            if role == "24":
                query = _decoded(entity.get("query"))
            elif role == "1" and ref and ref.startswith("Patient/"):
                patients.append(ref.removeprefix("Patient/"))
            elif ref:
                resources.append(ref)
        status, detail = _status(event)
        request_id = next((str(x.get("valueString")) for x in event.get("extension") or []
                           if str(x.get("url", "")).endswith("request-id")), "unknown")
        keys = [f"Patient/{p}" for p in patients] + [r.split("/_history/")[0] for r in resources]
        return {
            "recorded_us": _us(event["recorded"]), "client_id": agent.get("altId"),
            "ods": ods, "interaction": _INTERACTIONS.get(subtype, subtype)[:32],
            "action": str(event.get("action") or "E")[:1], "status": status,
            "request_id": request_id[:64],
            "remote": ((agent.get("network") or {}).get("address") or None),
            "patients": " ".join(patients) or None, "resources": " ".join(resources) or None,
            "query": query, "detail": detail, "_refs": list(dict.fromkeys(keys)),
        }
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None  # not in our shape: left out (it is removed with the rest)


def _decoded(value: Any) -> str:
    try:
        return base64.b64decode(str(value or "")).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _status(event: dict[str, Any]) -> tuple[int, str | None]:
    text = str(event.get("outcomeDesc") or "")
    if text.startswith("HTTP "):
        code, _, detail = text[5:].partition(": ")
        if code.isdigit():
            return int(code), detail or None
    return {"0": 200, "4": 400, "8": 500}.get(str(event.get("outcome")), 200), None


def _us(value: str) -> int:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(parsed.timestamp()) * 1_000_000 + parsed.microsecond
