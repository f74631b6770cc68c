"""Subscription delivery state and the transactional outbox of subscription events."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from eolc_fhir.storage.tables import metadata

__all__ = ["subscription_state", "subscription_events"]

# One row per Subscription resource that is not deleted. ``last_event_number`` is the
# outbox counter, bumped by writers inside their transaction (dense numbering);
# ``delivered_number`` is advanced by the dispatcher once a receiver acknowledged.
subscription_state = Table(
    "subscription_state",
    metadata,
    Column("sub_id", String(64), primary_key=True),
    Column("topic", String(255), nullable=False),
    Column("status", String(16), nullable=False),  # requested | active | error | off
    # The client that created the Subscription (security sets it); NULL when unknown.
    Column("owner", String(255), nullable=True),
    Column("spec", Text, nullable=False),  # JSON of subscriptions.spec.SubscriptionSpec
    Column("created_us", BigInteger, nullable=False),
    Column("last_event_number", BigInteger, nullable=False, default=0),
    Column("delivered_number", BigInteger, nullable=False, default=0),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_attempt_us", BigInteger, nullable=False, default=0),
    Column("last_sent_us", BigInteger, nullable=False, default=0),
    Column("heartbeat_us", BigInteger, nullable=False, default=0),  # 0: no heartbeats
    Column("last_error", Text, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_us", BigInteger, nullable=False, default=0),
    Index(None, "status", "next_attempt_us"),
    Index(None, "topic"),
)

# One row per matched change: the subscription, its dense event number and the focus
# version, so full-resource notifications carry the version that triggered the event.
subscription_events = Table(
    "subscription_events",
    metadata,
    Column("sub_id", String(64), primary_key=True),
    Column("event_number", BigInteger, primary_key=True),
    Column("created_us", BigInteger, nullable=False),
    Column("interaction", String(8), nullable=False),  # create | update | delete
    Column("focus_type", String(64), nullable=False),
    Column("focus_id", String(64), nullable=False),
    Column("focus_version", Integer, nullable=False),
    Index(None, "created_us"),
)
