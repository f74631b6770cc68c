"""The bulk export job table: one durable row per `$export` request (migration 0005).

A job is leased by the process that runs it (``locked_by`` until ``locked_until_us``):
a process that dies leaves a lease that runs out, and the next process to look
claims the job and runs it again from the start. ``manifest`` is written in the
same transaction that marks the job ``completed``, after every file is closed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from eolc_fhir.storage.tables import metadata

__all__ = ["export_jobs"]

export_jobs = Table(
    "export_jobs",
    metadata,
    Column("job_id", String(64), primary_key=True),
    Column("client_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # accepted running completed failed
    Column("request", Text, nullable=False),  # the kick-off URL, for the manifest
    Column("spec", Text, nullable=False),  # JSON: level, types, since, filters, who asked
    Column("created_us", BigInteger, nullable=False),
    Column("transaction_us", BigInteger, nullable=True),  # when the running export began
    Column("progress", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("locked_by", String(64), nullable=True),
    Column("locked_until_us", BigInteger, nullable=False, default=0),
    Column("manifest", Text, nullable=True),  # JSON, once every file is complete
    Column("error", Text, nullable=True),  # why the job failed
    Column("expires_us", BigInteger, nullable=True),  # when its files are removed
    Index(None, "status", "locked_until_us"),
    Index(None, "expires_us"),
)
