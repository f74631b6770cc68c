"""change signals: every committed write of a resource (AuditEvents aside) is announced

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:40:00

Readers that keep answers derived from many resources (the $wishes documents)
must know when anything changed, whichever process or tool wrote it:

- SQLite: triggers on ``resources`` count writes in the one-row table
  ``change_counter`` (SQLite writers are serialised, the row costs nothing);
- PostgreSQL: a row trigger on ``resources`` sends ``NOTIFY eolc_changes``,
  delivered at commit and folded to one per transaction (a counter row would
  serialise concurrent writers). ``change_counter`` exists but stays unused.

AuditEvents are left out: queued read audits are written all the time and
change nothing a reader keeps.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHANNEL = "eolc_changes"
_WATCHED = "res_type <> 'AuditEvent'"


def upgrade() -> None:
    op.create_table(
        "change_counter",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_counter")),
    )
    op.execute("INSERT INTO change_counter (id, n) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION eolc_announce_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF (CASE WHEN TG_OP = 'DELETE' THEN OLD.res_type ELSE NEW.res_type END)"
            f" <> 'AuditEvent' THEN PERFORM pg_notify('{CHANNEL}', ''); END IF;"
            " RETURN NULL; END $$"
        )
        op.execute("CREATE TRIGGER resources_changed AFTER INSERT OR UPDATE OR DELETE ON "
                   "resources FOR EACH ROW EXECUTE FUNCTION eolc_announce_change()")
        return
    bump = "BEGIN UPDATE change_counter SET n = n + 1 WHERE id = 1; END"
    op.execute(f"CREATE TRIGGER resources_inserted AFTER INSERT ON resources "
               f"WHEN NEW.{_WATCHED} {bump}")
    op.execute(f"CREATE TRIGGER resources_updated AFTER UPDATE ON resources "
               f"WHEN NEW.{_WATCHED} {bump}")
    op.execute(f"CREATE TRIGGER resources_deleted AFTER DELETE ON resources "
               f"WHEN OLD.{_WATCHED} {bump}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS resources_changed ON resources")
        op.execute("DROP FUNCTION IF EXISTS eolc_announce_change()")
    else:
        for name in ("resources_inserted", "resources_updated", "resources_deleted"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("change_counter")
