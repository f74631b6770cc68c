"""per-client rate limits, and the window that processes share to enforce them

Revision ID: 0004_client_rate_limit
Revises: 0003_audit_log
Create Date: 2026-12-05 20:40:00

- ``security_clients.rate_limit``: the client's requests per minute, set at
  registration (NULL: the server's default, ``EOLC_RATE_LIMIT_PER_MINUTE``;
  0: unlimited).
- ``security_rate_windows``: requests counted per client and 10-second slot.
  On PostgreSQL every server process adds its counts about twice a second
  and reads the client's total over the last minute back, so N processes on
  any number of hosts enforce one limit. UNLOGGED there: the counts are
  worthless after a crash and need no WAL. SQLite (one process) leaves it
  empty.
- PostgreSQL: the sequence ``eolc_change_seq``, which every server process
  advances after it commits a resource write and before it answers. Migration
  0002's notifications reach another process a little after the commit; a
  process about to serve a kept $wishes document reads this sequence, so a
  write another process has answered is never missed (storage/database.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_client_rate_limit"
down_revision = "0003_audit_log"
branch_labels = None
depends_on = None

CHANGE_SEQUENCE = "eolc_change_seq"


def upgrade() -> None:
    with op.batch_alter_table("security_clients") as batch:
        batch.add_column(sa.Column("rate_limit", sa.Integer(), nullable=True))
    op.create_table(
        "security_rate_windows",
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("slot", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "slot", name=op.f("pk_security_rate_windows")),
    )
    op.create_index(op.f("ix_security_rate_windows_slot"), "security_rate_windows", ["slot"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE security_rate_windows SET UNLOGGED")
        op.execute(f"CREATE SEQUENCE {CHANGE_SEQUENCE}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SEQUENCE {CHANGE_SEQUENCE}")
    op.drop_index(op.f("ix_security_rate_windows_slot"), table_name="security_rate_windows")
    op.drop_table("security_rate_windows")
    with op.batch_alter_table("security_clients") as batch:
        batch.drop_column("rate_limit")
