"""``threadloom migrate``: create or upgrade the database schema."""

from __future__ import annotations

from .base import commands, examples, out
from .options import DatabaseOption

__all__ = ["app"]

app = commands()


@app.command(
    "migrate",
    epilog=examples(
        "threadloom migrate",
        "threadloom migrate --database-url postgresql://tl@db.internal/threadloom",
    ),
)
def migrate_command(database_url: DatabaseOption = None) -> None:
    """Create or upgrade the database schema (`serve` does it too before it starts)."""
    from ..config import Settings
    from ..store.migrate import migrate

    settings = Settings(database_url=database_url) if database_url else Settings()
    migrate(settings.database_url)
    out.print("the database is up to date")
