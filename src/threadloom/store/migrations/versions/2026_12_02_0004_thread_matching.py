"""Thread matching: the case-folded title and the metadata terms the listing filters read.

``q`` and ``metadata[KEY]=VALUE`` are matched against values computed in Python (see
``threadloom.store.matching``), so that SQLite, PostgreSQL and Redis answer alike. This adds
the two columns and fills them in for the threads that exist, a batch at a time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from threadloom.store.matching import search_columns

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSONType = (
    sa.JSON().with_variant(postgresql.JSONB(), "postgresql").with_variant(sa.Text(), "sqlite")
)
BATCH = 1000


def upgrade() -> None:
    op.add_column("threads", sa.Column("title_folded", sa.Text, nullable=True))
    op.add_column(
        "threads",
        sa.Column("metadata_terms", JSONType, nullable=False, server_default=sa.text("'{}'")),
    )
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    update = sa.text(
        "UPDATE threads SET title_folded = :title_folded, metadata_terms = "
        + (":metadata_terms" if sqlite else "CAST(:metadata_terms AS jsonb)")
        + " WHERE pk = :pk"
    )
    after = 0
    while True:
        rows = bind.execute(
            sa.text(
                "SELECT pk, title, metadata FROM threads WHERE pk > :after ORDER BY pk LIMIT :n"
            ),
            {"after": after, "n": BATCH},
        ).fetchall()
        if not rows:
            return
        for pk, title, metadata in rows:
            if isinstance(metadata, str):  # SQLite keeps JSON as text
                metadata = json.loads(metadata)
            columns = search_columns({"title": title, "metadata": metadata})
            bind.execute(
                update,
                {
                    "pk": pk,
                    "title_folded": columns["title_folded"],
                    "metadata_terms": json.dumps(columns["metadata_terms"], ensure_ascii=False),
                },
            )
        after = rows[-1][0]


def downgrade() -> None:
    op.drop_column("threads", "metadata_terms")
    op.drop_column("threads", "title_folded")
