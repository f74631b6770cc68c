"""people's sign-in: local user accounts, authorization codes, apps' redirect URIs

Revision ID: 0007_people_signin
Revises: 0006_full_text
Create Date: 2026-12-06 03:45:00

- ``security_users``: local accounts (Argon2 password hash, role, ODS code,
  optional SDS user id, failed attempts and lockout).
- ``security_auth_codes``: one-time authorization codes (by hash) of the
  authorization code flow, until redeemed or expired.
- ``security_clients.redirect_uris`` and ``.public``: apps that sign people in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_people_signin"
down_revision = "0006_full_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("security_clients") as batch:
        batch.add_column(sa.Column("redirect_uris", sa.Text(), nullable=True))
        batch.add_column(sa.Column("public", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        "security_users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("ods", sa.String(length=16), nullable=False),
        sa.Column("sds_user_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until_us", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_security_users")),
    )
    op.create_table(
        "security_auth_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=128), nullable=False),
        sa.Column("person", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("expires_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_security_auth_codes")),
    )
    op.create_index(op.f("ix_security_auth_codes_expires_us"), "security_auth_codes",
                    ["expires_us"])


def downgrade() -> None:
    op.drop_index(op.f("ix_security_auth_codes_expires_us"), table_name="security_auth_codes")
    op.drop_table("security_auth_codes")
    op.drop_table("security_users")
    with op.batch_alter_table("security_clients") as batch:
        batch.drop_column("public")
        batch.drop_column("redirect_uris")
