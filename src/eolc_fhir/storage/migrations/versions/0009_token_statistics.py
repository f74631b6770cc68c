"""PostgreSQL: statistics on the token index's key columns taken together

Revision ID: 0009_token_statistics
Revises: 0008_origin_person
Create Date: 2026-12-06 06:40:00

PostgreSQL estimates ``res_type = 'Flag' AND param = 'code' AND system = … AND
code = …`` by multiplying each column's own selectivity, as if the columns were
independent. They are not (a code belongs to one system and one parameter of
one type), so a test that matches every register entry was estimated at a
handful of rows, and the planner drove a search from it and probed the
selective test once per entry (the console register's "plan review overdue":
46 ms instead of 12-21 ms on a 3,000-person region, and seconds on a large one).
Extended statistics (functional dependencies and the most common combinations)
on those columns give it the real figures. SQLite: nothing (its planner does
not use such estimates).
"""

from __future__ import annotations

from alembic import op

revision = "0009_token_statistics"
down_revision = "0008_origin_person"
branch_labels = None
depends_on = None

# Only the token table's: the same statistics on idx_reference and idx_date as well made that
# search slower again (a parallel plan, 48 ms) on the same region.
_STATISTICS = {"idx_token_keys": ("idx_token", "res_type, param, system, code")}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, columns) in _STATISTICS.items():
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (dependencies, mcv) "
                   f"ON {columns} FROM {table}")
    for table in sorted({table for table, _ in _STATISTICS.values()}):
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in _STATISTICS:
        op.execute(f"DROP STATISTICS IF EXISTS {name}")
