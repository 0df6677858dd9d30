"""The schema, defined once with SQLAlchemy Core for SQLite and PostgreSQL.

The migrations under ``migrations/versions`` build exactly this (a test compares them). The
request paths do not go through SQLAlchemy: each backend speaks to its database through its
fast driver, with the queries kept next to it.

Timestamps are ``timestamptz`` on PostgreSQL and fixed-width RFC 3339 text on SQLite (which
sorts like time). JSON is ``jsonb`` on PostgreSQL and JSON in TEXT columns on SQLite: TEXT
affinity, so that SQLite never turns a JSON text such as ``1.0`` into a number.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = [
    "JSONType",
    "Timestamp",
    "api_keys",
    "assistants",
    "idempotency_keys",
    "leases",
    "messages",
    "metadata",
    "spaces",
    "state_versions",
    "threads",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONType = (
    sa.JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sa.Text(), "sqlite")
)
Timestamp = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

spaces = sa.Table(
    "spaces",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # Threads created in the space without a ttl of their own expire after this long.
    sa.Column("default_thread_ttl_seconds", sa.Integer, nullable=True),
)

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("pk", BigId, primary_key=True, autoincrement=True),
    sa.Column("space_id", sa.Text, sa.ForeignKey("spaces.id", ondelete="CASCADE"), nullable=False),
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=True),
    sa.Column("owner_id", sa.Text, nullable=True),
    sa.Column("public", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("state", JSONType, nullable=True),
    sa.Column("state_version", sa.Integer, nullable=False),
    sa.Column("state_updated_at", Timestamp, nullable=True),
    sa.Column("role_mapping", JSONType, nullable=False),
    sa.Column("message_count", sa.BigInteger, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Column("archived_at", Timestamp, nullable=True),
    # Past this instant the thread reads as missing; the retention sweeper deletes it.
    sa.Column("expires_at", Timestamp, nullable=True),
    # What ``q`` and ``metadata[KEY]=VALUE`` match (store/matching.py), set on every write.
    sa.Column("title_folded", sa.Text, nullable=True),
    sa.Column("metadata_terms", JSONType, nullable=False, server_default=sa.text("'{}'")),
    sa.UniqueConstraint("space_id", "id"),
    sa.CheckConstraint("status IN ('active', 'archived')", name="status"),
    sa.Index(None, "space_id", "updated_at", "id"),
    sa.Index(None, "space_id", "created_at", "id"),
    sa.Index(None, "space_id", "owner_id"),
    # Partial: only the threads that expire, which is all the sweeper walks.
    sa.Index(
        None,
        "expires_at",
        postgresql_where=sa.text("expires_at IS NOT NULL"),
        sqlite_where=sa.text("expires_at IS NOT NULL"),
    ),
)

# Messages are keyed by (thread, seq): on SQLite the table is clustered that way (WITHOUT
# ROWID), so a page of a thread is one contiguous range and an append writes one b-tree
# less.
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Text, nullable=False),
    sa.Column(
        "thread_pk", BigId, sa.ForeignKey("threads.pk", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("images", JSONType, nullable=False),
    sa.Column("private", sa.Boolean, nullable=False),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    # The message's other fields (store.rows.message_item), NULL when it has none.
    sa.Column("item", JSONType, nullable=True),
    # Ids are unique within their thread: a client may choose them (imports, retries), and
    # an id taken in another space must not be observable.
    sa.UniqueConstraint("thread_pk", "id"),
    sqlite_with_rowid=False,
)

state_versions = sa.Table(
    "state_versions",
    metadata,
    sa.Column(
        "thread_pk", BigId, sa.ForeignKey("threads.pk", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("state", JSONType, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),
    sa.Column("prefix", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=True),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("space_id", sa.Text, sa.ForeignKey("spaces.id", ondelete="CASCADE"), nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("revoked_at", Timestamp, nullable=True),
    sa.CheckConstraint("role IN ('admin', 'writer', 'reader')", name="role"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.LargeBinary, nullable=True),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("locked_until", Timestamp, nullable=False),
    sa.Index(None, "created_at"),
)

# Assistants: per-space LLM configurations. A private one is seen only by admin keys and the
# keys it grants; its unlock phrase is kept as a salted SHA-256 and a word count only.
assistants = sa.Table(
    "assistants",
    metadata,
    sa.Column(
        "space_id", sa.Text, sa.ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("provider", sa.Text, nullable=True),
    sa.Column("model", sa.Text, nullable=True),
    sa.Column("system_prompt", sa.Text, nullable=True),
    sa.Column("temperature", sa.Float, nullable=True),
    sa.Column("max_tokens", sa.Integer, nullable=True),
    sa.Column("context_tokens", sa.Integer, nullable=False),
    sa.Column("private", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("grants", JSONType, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("unlock_salt", sa.Text, nullable=True),
    sa.Column("unlock_hash", sa.Text, nullable=True),
    sa.Column("unlock_words", sa.Integer, nullable=True),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.UniqueConstraint("space_id", "name"),
)

# Named leases: one holder at a time across every server process (one generation per thread).
leases = sa.Table(
    "leases",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
)
