"""Live thread events: an in-process hub, fanned out across processes through Redis.

``create_event_hub(settings)`` picks the transport: Redis pub/sub when ``THREADLOOM_REDIS_URL``
is set (whatever the store is), else this process only.
"""

from __future__ import annotations

from ..config import Settings
from .hub import (
    Event,
    EventHub,
    EventTransport,
    LocalTransport,
    SubscriberLagged,
    Subscription,
)

__all__ = [
    "Event",
    "EventHub",
    "EventTransport",
    "LocalTransport",
    "SubscriberLagged",
    "Subscription",
    "create_event_hub",
]


def create_event_hub(settings: Settings) -> EventHub:
    transport: EventTransport
    if settings.redis_url:
        from .redis import RedisTransport

        transport = RedisTransport(settings.redis_url, f"{settings.redis_prefix}:events")
    else:
        transport = LocalTransport()
    return EventHub(
        transport,
        replay_size=settings.events_replay_size,
        queue_size=settings.events_queue_size,
    )
