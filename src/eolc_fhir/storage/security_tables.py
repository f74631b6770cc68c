"""Tables of the security layer: clients, used assertion ids, signing keys, record origin.

Defined on ``tables.metadata`` so that the one schema (and its migrations)
covers them; ``storage/schema.py`` imports this module.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text, false

from eolc_fhir.storage.tables import metadata

__all__ = ["security_clients", "security_jti", "security_keys", "security_origin",
           "security_consent", "security_rate_windows"]

security_clients = Table(
    "security_clients",
    metadata,
    Column("client_id", String(128), primary_key=True),
    Column("name", Text, nullable=False),
    Column("ods", String(16), nullable=False),
    Column("role", String(32), nullable=False),
    Column("scopes", Text, nullable=False),  # space-separated SMART scopes
    Column("jwks", Text, nullable=True),  # a JWKS document (JSON) ...
    Column("jwks_uri", Text, nullable=True),  # ... or where to fetch it
    Column("created_us", BigInteger, nullable=False),
    # requests per minute; NULL: the server's default; 0: unlimited (migration 0004)
    Column("rate_limit", Integer, nullable=True),
    # Apps that sign people in (migration 0007): their exact redirect URIs, space-separated,
    # and whether they are public (no key: PKCE alone, no client_credentials).
    Column("redirect_uris", Text, nullable=True),
    Column("public", Boolean, nullable=False, default=False, server_default=false()),
)

# Requests counted per client and 10-second slot, added to by every server process on
# PostgreSQL (security/ratelimit.py); UNLOGGED there (migration 0004).
security_rate_windows = Table(
    "security_rate_windows",
    metadata,
    Column("client_id", String(128), primary_key=True),
    Column("slot", BigInteger, primary_key=True),
    Column("n", BigInteger, nullable=False),
    Index(None, "slot"),
)

# Every accepted client assertion's jti, kept until the assertion expires.
security_jti = Table(
    "security_jti",
    metadata,
    Column("client_id", String(128), primary_key=True),
    Column("jti", String(256), primary_key=True),
    Column("expires_us", BigInteger, nullable=False),
    Index(None, "expires_us"),
)

# The server's own signing keys; the newest active one signs, all listed verify.
security_keys = Table(
    "security_keys",
    metadata,
    Column("kid", String(128), primary_key=True),
    Column("private_jwk", Text, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
)

# Who recorded each resource (the consent rule) and who owns it (Subscriptions).
security_origin = Table(
    "security_origin",
    metadata,
    Column("res_type", String(64), primary_key=True),
    Column("res_id", String(64), primary_key=True),
    Column("client_id", String(128), nullable=True),
    Column("ods", String(16), nullable=True),
    Column("patient_id", String(64), nullable=True),
    Column("user_id", String(128), nullable=True),  # the person, with a person's token (0008)
    Index(None, "client_id", "res_type"),
)

# One row per consent-to-share Consent: the patient's sharing state derives from them.
security_consent = Table(
    "security_consent",
    metadata,
    Column("consent_id", String(64), primary_key=True),
    Column("patient_id", String(64), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("withdrawn", Boolean, nullable=False),
    Column("recorded_us", BigInteger, nullable=False),  # Consent.dateTime
    Index(None, "patient_id"),
)
