"""Per-resource indexes that answer a search's probes by themselves

Revision ID: 0010_probe_indexes
Revises: 0009_token_statistics
Create Date: 2026-12-06 08:30:00

A search tests each candidate against its other clauses (``EXISTS`` on the token,
reference or date rows of that one resource). Those probes went by the
(res_type, res_id) index and then read each of the resource's index rows from the
table to compare the parameter and value. The index now carries the parameter and
the compared columns as well, so a probe never leaves it: on a 100,000-person
region the console register's "plan review overdue" search probes about 20,000
Flags. The new index replaces the old one (it still serves every lookup by
resource, such as replacing a resource's rows on update).

On a large database this rebuilds three indexes once; PostgreSQL holds a write
lock on each table while it does.
"""

from __future__ import annotations

from alembic import op

revision = "0010_probe_indexes"
down_revision = "0009_token_statistics"
branch_labels = None
depends_on = None

_PROBES = {
    "idx_token": ("code", "system"),
    "idx_reference": ("target_type", "target_id"),
    "idx_date": ("low_us", "high_us"),
}


def upgrade() -> None:
    for table, columns in _PROBES.items():
        op.drop_index(f"ix_{table}_res_type_res_id", table_name=table)
        op.create_index(f"ix_{table}_probe", table, ["res_type", "res_id", "param", *columns])


def downgrade() -> None:
    for table in _PROBES:
        op.drop_index(f"ix_{table}_probe", table_name=table)
        op.create_index(f"ix_{table}_res_type_res_id", table, ["res_type", "res_id"])
