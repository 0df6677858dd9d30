"""Message items: the fields of a message beyond role and text (tool calls, the call a tool
result answers, the author's name), kept as one JSON object per message.

A message without such fields has ``NULL`` here, so the column costs nothing to add (no
table rewrite on PostgreSQL or SQLite) and nothing to the messages that exist.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = (
    sa.JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sa.Text(), "sqlite")
)


def upgrade() -> None:
    op.add_column("messages", sa.Column("item", JSONType, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("item")
