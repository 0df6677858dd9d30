"""``threadloom migrate``: create or upgrade the database schema."""

from __future__ import annotations

import typer

from .base import out
from .options import DatabaseOption

__all__ = ["app"]

app = typer.Typer()


@app.command("migrate", epilog="Example: `threadloom migrate --database-url sqlite:///data.db`")
def migrate_command(database_url: DatabaseOption = None) -> None:
    """Create or upgrade the database schema (`serve` does it too before it starts)."""
    from ..config import Settings
    from ..store.migrate import migrate

    settings = Settings(database_url=database_url) if database_url else Settings()
    migrate(settings.database_url)
    out.print("the database is up to date")
