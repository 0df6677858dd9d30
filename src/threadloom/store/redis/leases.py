"""Named leases on Redis: a key holding the holder's name that expires with the lease, so
Redis's clock decides when a lease ends for every server, and an expired lease is simply
gone. One script checks and claims."""

from __future__ import annotations

import math

from .connection import RedisBase, lua

__all__ = ["LeaseStoreMixin"]

_ACQUIRE = lua(
    "acquire_lease",
    """
-- ARGV: lease key, holder, milliseconds. Returns -1 when the caller holds the lease now,
-- else the milliseconds left on another holder's lease.
local k, holder = ARGV[2], ARGV[3]
local current = redis.call('GET', k)
if current and current ~= holder then
  local left = redis.call('PTTL', k)
  if left > 0 then return left end
end
redis.call('SET', k, holder, 'PX', ARGV[4])
return -1
""",
)

_RELEASE = lua(
    "release_lease",
    """
if redis.call('GET', ARGV[2]) == ARGV[3] then redis.call('DEL', ARGV[2]) end
return 1
""",
)


class LeaseStoreMixin(RedisBase):
    # leases -----------------------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, seconds: float) -> float | None:
        millis = max(1, math.ceil(seconds * 1000))
        left = int(await self._eval(_ACQUIRE, self.keys.lease(name), holder, millis))
        return None if left < 0 else left / 1000

    async def release_lease(self, name: str, holder: str) -> None:
        await self._eval(_RELEASE, self.keys.lease(name), holder)
