"""The audit log: one compact, append-only row per audited request, and its references.

``audit_log`` holds the facts of the request (who, what, when, outcome); the
patients and resources it touched are kept twice, cheaply: as space-separated
text in the row (to render the AuditEvent without a join) and as one
``audit_ref`` row per distinct reference (without a version), which is what
``patient=`` and ``entity=`` searches use. Indexes only where searches and the
retention purge need them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from eolc_fhir.storage.tables import metadata

__all__ = ["audit_log", "audit_ref"]

_SeqInt = BigInteger().with_variant(Integer(), "sqlite")  # SQLite: an alias of the rowid

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", _SeqInt, primary_key=True, autoincrement=True),
    Column("recorded_us", BigInteger, nullable=False),
    Column("client_id", String(128), nullable=True),  # None: no valid token (a 401)
    Column("role", String(32), nullable=True),
    Column("ods", String(16), nullable=True),
    Column("user_id", String(128), nullable=True),  # for later user logins
    Column("interaction", String(32), nullable=False),
    Column("action", String(1), nullable=False),  # C R U D E
    Column("status", Integer, nullable=False),  # the HTTP status answered
    Column("request_id", String(64), nullable=False),
    Column("remote", String(64), nullable=True),
    Column("patients", Text, nullable=True),  # Patient ids, space-separated
    Column("resources", Text, nullable=True),  # Type/id[/_history/v], space-separated
    Column("query", Text, nullable=True),  # a search's query string
    Column("detail", Text, nullable=True),  # why it failed
    Index(None, "recorded_us"),
    Index(None, "client_id", "id"),
)

# One row per distinct reference of an audit record: "Patient/p1", "CarePlan/c1". The key
# is the only index (SQLite: WITHOUT ROWID, one B-tree): a $wishes record names 5-15
# references, so each extra index here would cost more than the log row itself. The
# retention purge finds a purged record's keys from its row's own text columns.
audit_ref = Table(
    "audit_ref",
    metadata,
    Column("ref", String(200), primary_key=True),
    Column("audit_id", BigInteger, primary_key=True),
    sqlite_with_rowid=False,
)
