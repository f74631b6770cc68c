"""The database schema, one for SQLite and PostgreSQL (Alembic migrates it)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "metadata",
    "resources",
    "resource_history",
    "idx_token",
    "idx_string",
    "idx_reference",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_uri",
    "idx_text",
    "INDEX_TABLES",
    "change_counter",
    "UNWATCHED_TYPES",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BigInteger autoincrement is INTEGER on SQLite so that it aliases the rowid.
_SeqInt = BigInteger().with_variant(Integer(), "sqlite")

resources = Table(
    "resources",
    metadata,
    Column("res_type", String(64), primary_key=True),
    Column("res_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),
    Column("last_updated_us", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", LargeBinary, nullable=True),
    Index(None, "res_type", "last_updated_us"),
)

resource_history = Table(
    "resource_history",
    metadata,
    Column("seq", _SeqInt, primary_key=True, autoincrement=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated_us", BigInteger, nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("content", LargeBinary, nullable=True),
    UniqueConstraint("res_type", "res_id", "version"),
    Index(None, "last_updated_us"),
    Index(None, "res_type", "last_updated_us"),
)

# Types whose writes change nothing a reader keeps (the read audit trail grows with every
# read): the change signals below ignore them.
UNWATCHED_TYPES = ("AuditEvent",)

# How many watched resource writes were committed (migration 0002 keeps it with triggers on
# ``resources``). Used on SQLite, whose writers are serialised anyway; PostgreSQL signals
# the same with NOTIFY instead (a counter row would serialise its concurrent writers).
change_counter = Table(
    "change_counter",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("n", BigInteger, nullable=False),
)


def _index_table(name: str, *columns: Column[object], probe: tuple[str, ...] = (),
                 extra: tuple[Index, ...] = ()) -> Table:
    """An index table; ``probe``: the columns a per-resource probe tests, added to its
    (res_type, res_id) index so the probe is answered from the index alone."""
    by_resource = (Index(f"ix_{name}_probe", "res_type", "res_id", "param", *probe) if probe
                   else Index(None, "res_type", "res_id"))
    return Table(
        name,
        metadata,
        Column("id", _SeqInt, primary_key=True, autoincrement=True),
        Column("res_type", String(64), nullable=False),
        Column("res_id", String(64), nullable=False),
        Column("param", String(64), nullable=False),
        *columns,
        by_resource,
        *extra,
    )


idx_token = _index_table(
    "idx_token",
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    Column("text", Text, nullable=True),
    probe=("code", "system"),
    extra=(Index("ix_idx_token_lookup", "param", "code", "system", "res_type", "res_id"),),
)

idx_string = _index_table(
    "idx_string",
    Column("value_norm", Text, nullable=False),
    Column("value_exact", Text, nullable=False),
    # text_pattern_ops: prefix search (LIKE 'abc%') can use the index under any collation.
    extra=(Index("ix_idx_string_lookup", "param", "value_norm", "res_type", "res_id",
                 postgresql_ops={"value_norm": "text_pattern_ops"}),),
)

idx_reference = _index_table(
    "idx_reference",
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("url", Text, nullable=True),
    probe=("target_type", "target_id"),
    extra=(
        Index("ix_idx_reference_lookup", "param", "target_id", "target_type", "res_type", "res_id"),
        Index("ix_idx_reference_url", "param", "url"),
    ),
)

idx_date = _index_table(
    "idx_date",
    Column("low_us", BigInteger, nullable=False),
    Column("high_us", BigInteger, nullable=False),
    probe=("low_us", "high_us"),
    extra=(Index("ix_idx_date_lookup", "param", "low_us", "high_us", "res_type", "res_id"),),
)

idx_number = _index_table(
    "idx_number",
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    extra=(Index("ix_idx_number_lookup", "param", "value", "res_type", "res_id"),),
)

idx_quantity = _index_table(
    "idx_quantity",
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    extra=(Index("ix_idx_quantity_lookup", "param", "code", "value", "res_type", "res_id"),),
)

idx_uri = _index_table(
    "idx_uri",
    Column("value", Text, nullable=False),
    extra=(Index("ix_idx_uri_lookup", "param", "value", "res_type", "res_id"),),
)

# _text and _content: one row per resource and parameter holding its words, lower case,
# one space apart and padded (" a b "), matched by LIKE '% word%'. No index on the text:
# a row is far longer than a btree entry may be; the (param, res_type) index bounds the scan.
idx_text = _index_table(
    "idx_text",
    Column("value_norm", Text, nullable=False),
    extra=(Index("ix_idx_text_lookup", "param", "res_type", "res_id"),),
)

INDEX_TABLES = (idx_token, idx_string, idx_reference, idx_date, idx_number, idx_quantity, idx_uri,
                idx_text)
