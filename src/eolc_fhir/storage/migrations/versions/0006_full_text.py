"""full-text search rows: the idx_text table behind _text and _content

Revision ID: 0006_full_text
Revises: 0005_export_jobs
Create Date: 2026-12-06 02:50:00

One row per resource and parameter (``_text``: the narrative; ``_content``: every
string of the resource) holding its words in normalised form. Existing resources
get their rows with ``eolc-fhir reindex``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_full_text"
down_revision = "0005_export_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idx_text",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("res_type", sa.String(length=64), nullable=False),
        sa.Column("res_id", sa.String(length=64), nullable=False),
        sa.Column("param", sa.String(length=64), nullable=False),
        sa.Column("value_norm", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idx_text")),
    )
    with op.batch_alter_table("idx_text", schema=None) as batch_op:
        batch_op.create_index("ix_idx_text_lookup", ["param", "res_type", "res_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_idx_text_res_type_res_id"), ["res_type", "res_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idx_text", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idx_text_res_type_res_id"))
        batch_op.drop_index("ix_idx_text_lookup")
    op.drop_table("idx_text")
