"""Tables of people's sign-in: local user accounts and one-time authorization codes.

Defined on ``tables.metadata`` (migration 0007); registered apps' redirect URIs
live on ``security_clients`` (security_tables.py).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from eolc_fhir.storage.tables import metadata

__all__ = ["security_users", "security_auth_codes"]

# Local accounts for small deployments; the password only as an Argon2 hash.
security_users = Table(
    "security_users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("ods", String(16), nullable=False),
    Column("sds_user_id", String(64), nullable=True),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("failed_attempts", Integer, nullable=False),  # since the last success or lockout
    Column("locked_until_us", BigInteger, nullable=False),  # 0: not locked
    Column("created_us", BigInteger, nullable=False),
)

# Authorization codes, by the SHA-256 of the code (a leaked table gives no usable code);
# deleted when redeemed, so a code works once.
security_auth_codes = Table(
    "security_auth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(128), nullable=False),
    Column("username", String(128), nullable=False),
    # the person as signed in (JSON: role, ODS, SDS id, and whether a local account)
    Column("person", Text, nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("scope", Text, nullable=False),  # what was granted
    Column("code_challenge", String(128), nullable=False),
    Column("nonce", Text, nullable=True),
    Column("expires_us", BigInteger, nullable=False),
    Index(None, "expires_us"),
)
