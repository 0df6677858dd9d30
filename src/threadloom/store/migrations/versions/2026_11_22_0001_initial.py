"""Initial schema: spaces, threads, messages, state versions, API keys, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = (
    sa.JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sa.Text(), "sqlite")
)
Timestamp = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    spaces = op.create_table(
        "spaces",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_spaces"),
    )
    op.create_table(
        "threads",
        sa.Column("pk", BigId, autoincrement=True, nullable=False),
        sa.Column("space_id", sa.Text, nullable=False),
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
        sa.PrimaryKeyConstraint("pk", name="pk_threads"),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name="fk_threads_space_id_spaces", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("space_id", "id", name="uq_threads_space_id_id"),
        sa.CheckConstraint("status IN ('active', 'archived')", name=op.f("ck_threads_status")),
    )
    op.create_index(
        "ix_threads_space_id_updated_at_id", "threads", ["space_id", "updated_at", "id"]
    )
    op.create_index(
        "ix_threads_space_id_created_at_id", "threads", ["space_id", "created_at", "id"]
    )
    op.create_index("ix_threads_space_id_owner_id", "threads", ["space_id", "owner_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("thread_pk", BigId, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("images", JSONType, nullable=False),
        sa.Column("private", sa.Boolean, nullable=False),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("thread_pk", "seq", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["thread_pk"], ["threads.pk"], name="fk_messages_thread_pk_threads", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("thread_pk", "id", name="uq_messages_thread_pk_id"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "state_versions",
        sa.Column("thread_pk", BigId, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("state", JSONType, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("thread_pk", "version", name="pk_state_versions"),
        sa.ForeignKeyConstraint(
            ["thread_pk"],
            ["threads.pk"],
            name="fk_state_versions_thread_pk_threads",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("space_id", sa.Text, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name="fk_api_keys_space_id_spaces", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        sa.CheckConstraint("role IN ('admin', 'writer', 'reader')", name=op.f("ck_api_keys_role")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("response_status", sa.Integer, nullable=True),
        sa.Column("response_body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("locked_until", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])

    now = datetime.now(UTC)
    created_at: object = now
    metadata: object = {}
    if op.get_bind().dialect.name == "sqlite":
        created_at = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        metadata = "{}"
    op.bulk_insert(
        spaces,
        [{"id": "default", "name": "Default", "metadata": metadata, "created_at": created_at}],
    )


def downgrade() -> None:
    for table in (
        "idempotency_keys",
        "api_keys",
        "state_versions",
        "messages",
        "threads",
        "spaces",
    ):
        op.drop_table(table)
