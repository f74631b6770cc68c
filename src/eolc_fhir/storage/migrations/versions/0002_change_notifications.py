"""change notifications (PostgreSQL): NOTIFY eolc_changes on every committed write

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:20:00

A statement-level trigger on the tables a person's record is read from sends
``NOTIFY eolc_changes`` from every writing transaction, whichever process or
tool wrote; PostgreSQL delivers it at commit (folded to one per transaction).
Server processes listen and treat documents they keep ($wishes) as unchecked
from then on. SQLite needs nothing: ``PRAGMA data_version`` says the same.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANNEL = "eolc_changes"
TABLES = ("resources", "idx_reference", "idx_token")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION eolc_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION eolc_notify_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
    op.execute("DROP FUNCTION IF EXISTS eolc_notify_change()")
