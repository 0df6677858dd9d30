"""Retention: threads that expire, and a default time to live per space.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Timestamp = sa.DateTime(timezone=True).with_variant(sa.Text(), "sqlite")
_EXPIRING = sa.text("expires_at IS NOT NULL")


def upgrade() -> None:
    # Nullable columns without a default: a metadata-only change on both databases, however
    # many threads there are.
    op.add_column("threads", sa.Column("expires_at", Timestamp, nullable=True))
    op.create_index(
        "ix_threads_expires_at",
        "threads",
        ["expires_at"],
        postgresql_where=_EXPIRING,
        sqlite_where=_EXPIRING,
    )
    op.add_column("spaces", sa.Column("default_thread_ttl_seconds", sa.Integer, nullable=True))


def downgrade() -> None:
    op.drop_column("spaces", "default_thread_ttl_seconds")
    op.drop_index("ix_threads_expires_at", table_name="threads")
    op.drop_column("threads", "expires_at")
