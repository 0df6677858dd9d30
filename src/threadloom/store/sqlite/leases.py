"""Named leases on SQLite: a write transaction (``BEGIN IMMEDIATE``) makes the check and the
claim one step for every process that shares the file."""

from __future__ import annotations

from datetime import timedelta

from ...timestamps import format_ts, parse_ts, utc_now
from .connection import SQLiteBase

__all__ = ["LeaseStoreMixin"]


class LeaseStoreMixin(SQLiteBase):
    # leases -----------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, seconds: float) -> float | None:
        now = utc_now()
        with self._writing() as db:
            r = db.execute(
                "SELECT holder, expires_at FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if r is not None and r[0] != holder:
                left = (parse_ts(r[1]) - now).total_seconds()
                if left > 0:
                    return left
            db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
                " expires_at = excluded.expires_at",
                (name, holder, format_ts(now + timedelta(seconds=seconds))),
            )
        return None

    async def release_lease(self, name: str, holder: str) -> None:
        with self._writing() as db:
            db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))
