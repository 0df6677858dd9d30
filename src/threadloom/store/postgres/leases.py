"""Named leases on PostgreSQL: one upsert claims a free, expired or own lease, timed by the
database's clock so that servers on several hosts agree on when a lease ends."""

from __future__ import annotations

from .connection import PostgresBase

__all__ = ["LeaseStoreMixin"]

_ACQUIRE_SQL = """
INSERT INTO leases AS l (name, holder, expires_at)
VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3))
ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
WHERE l.holder = EXCLUDED.holder OR l.expires_at <= clock_timestamp()
RETURNING 1
"""

_LEFT_SQL = """
SELECT extract(epoch FROM expires_at - clock_timestamp())::float8 FROM leases WHERE name = $1
"""


class LeaseStoreMixin(PostgresBase):
    # leases -----------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, seconds: float) -> float | None:
        while True:
            if await self._fetchval(_ACQUIRE_SQL, name, holder, float(seconds)) is not None:
                return None
            left = await self._fetchval(_LEFT_SQL, name)
            if left is not None and left > 0:
                return float(left)
            # Released or expired in between: try to claim it again.

    async def release_lease(self, name: str, holder: str) -> None:
        await self._execute("DELETE FROM leases WHERE name = $1 AND holder = $2", name, holder)
