"""the person who recorded a resource, beside their app

Revision ID: 0008_origin_person
Revises: 0007_people_signin
Create Date: 2026-12-06 05:30:00

- ``security_origin.user_id``: the signed-in person (authorization code flow)
  whose token recorded the resource; NULL for a system client. A Subscription
  belongs to its client AND its person, so two people using the same app
  (the console) never share one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_origin_person"
down_revision = "0007_people_signin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("security_origin") as batch:
        batch.add_column(sa.Column("user_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("security_origin") as batch:
        batch.drop_column("user_id")
