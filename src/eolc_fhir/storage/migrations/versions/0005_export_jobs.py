"""bulk export jobs: the durable table behind `$export` and its status URL

Revision ID: 0005_export_jobs
Revises: 0004_client_rate_limit
Create Date: 2026-12-05 23:40:00

One row per kick-off request (storage/export_tables.py): who asked, what, the
state of the job, the lease of the process running it (``locked_by`` until
``locked_until_us``: a job whose process died is claimed again once the lease
runs out), the manifest once every file is written, and when the files expire.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_export_jobs"
down_revision = "0004_client_rate_limit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "export_jobs",
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("transaction_us", sa.BigInteger(), nullable=True),
        sa.Column("progress", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("locked_by", sa.String(length=64), nullable=True),
        sa.Column("locked_until_us", sa.BigInteger(), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("expires_us", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_export_jobs")),
    )
    op.create_index(op.f("ix_export_jobs_status_locked_until_us"), "export_jobs",
                    ["status", "locked_until_us"])
    op.create_index(op.f("ix_export_jobs_expires_us"), "export_jobs", ["expires_us"])


def downgrade() -> None:
    op.drop_index(op.f("ix_export_jobs_expires_us"), table_name="export_jobs")
    op.drop_index(op.f("ix_export_jobs_status_locked_until_us"), table_name="export_jobs")
    op.drop_table("export_jobs")
