"""Alembic environment: runs on the connection handed over by storage.migrate."""

from __future__ import annotations

from alembic import context

from eolc_fhir.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - we always pass a connection
    raise RuntimeError("run migrations through eolc_fhir.storage.migrate")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
