"""Thread events inside one process: who is subscribed, what was said lately, and delivery.

Writers call :meth:`EventHub.publish`, which never waits: the event goes to the transport
(delivered at once in process, or through Redis to every process) and from there to
:meth:`EventHub.deliver`, which keeps it in a bounded replay window and offers it to every
matching subscriber. A subscriber has a bounded queue of its own: one that falls too far
behind is marked lagged and told so, instead of slowing writers or growing without bound.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from ..ids import ProcessSequence, new_id
from ..timestamps import now_ts

__all__ = [
    "Event",
    "EventHub",
    "EventTransport",
    "LocalTransport",
    "Subscription",
    "SubscriberLagged",
    "new_event_id",
]

log = logging.getLogger("threadloom.events")

_event_ids = ProcessSequence(lambda: new_id("evt"))
"""Every event id of a process starts with a new id (80 random bits), so events of
different processes, which meet through Redis, never share an id."""


def new_event_id() -> str:
    """``evt_...-N``: this process's id and a counter. Unique across processes, increasing
    within one, and cheaper than a new id per event (it is made on every write)."""
    part, number = _event_ids.next()
    return f"{part}-{number:012d}"


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    """Unique and, within one process, increasing: see :func:`new_event_id`."""
    type: str
    """What happened. To one thread: ``thread.created``, ``thread.updated`` and
    ``thread.deleted`` (data: the thread, or ``{"id"}`` when deleted), ``message.created``
    (the message), ``state.updated`` (the state), ``chat.delta`` and ``chat.done`` (a reply
    being written). To a space (``thread_id`` None, so only space streams carry them):
    ``threads.purged``, every thread of one owner deleted at once (data: ``{"owner_id",
    "count"}``, how many threads went; no ``thread.deleted`` is sent for each)."""
    space_id: str
    thread_id: str | None
    """The thread the event is about; None for an event about the space."""
    data: Any
    created_at: str

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "id": self.id,
                "type": self.type,
                "space_id": self.space_id,
                "thread_id": self.thread_id,
                "data": self.data,
                "created_at": self.created_at,
            }
        )

    @classmethod
    def from_json(cls, raw: bytes | str) -> Event:
        doc = orjson.loads(raw)
        return cls(
            doc["id"],
            doc["type"],
            doc["space_id"],
            doc["thread_id"],
            doc["data"],
            doc["created_at"],
        )

    def envelope(self) -> dict[str, Any]:
        """What an event stream sends as the event's data."""
        return {"type": self.type, "thread_id": self.thread_id, "data": self.data}


class SubscriberLagged(Exception):
    """The subscriber fell too far behind; it was dropped from delivery."""


class Subscription:
    def __init__(
        self,
        hub: EventHub,
        space_id: str,
        thread_id: str | None,
        max_queued: int,
    ) -> None:
        self.space_id = space_id
        self.thread_id = thread_id
        self.lagged = False
        self._hub = hub
        self._max = max_queued
        self._items: deque[Event] = deque()
        self._ready = asyncio.Event()

    def matches(self, event: Event) -> bool:
        return event.space_id == self.space_id and (
            self.thread_id is None or event.thread_id == self.thread_id
        )

    def offer(self, event: Event) -> None:
        if self.lagged:
            return
        if len(self._items) >= self._max:
            self.lagged = True
            self._items.clear()
            self._hub.drop(self)
        else:
            self._items.append(event)
        self._ready.set()

    async def next(self, timeout: float | None = None) -> Event | None:
        """The next event; None after ``timeout`` seconds without one."""
        while not self._items:
            if self.lagged:
                raise SubscriberLagged(f"this subscriber fell more than {self._max} events behind")
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        return self._items.popleft()

    def close(self) -> None:
        self._hub.drop(self)


class EventTransport(Protocol):
    """Carries published events to :meth:`EventHub.deliver` in every process."""

    async def start(self, deliver: Callable[[Event], None]) -> None: ...
    def send(self, event: Event) -> None: ...
    async def stop(self) -> None: ...


class LocalTransport:
    """Events stay in this process."""

    fans_out = False

    def __init__(self) -> None:
        self._deliver: Callable[[Event], None] | None = None

    async def start(self, deliver: Callable[[Event], None]) -> None:
        self._deliver = deliver

    def send(self, event: Event) -> None:
        if self._deliver is not None:
            self._deliver(event)

    async def stop(self) -> None:
        self._deliver = None


class EventHub:
    def __init__(
        self, transport: EventTransport, *, replay_size: int = 1000, queue_size: int = 1000
    ) -> None:
        self.transport = transport
        self.queue_size = queue_size
        self._recent: deque[Event] = deque(maxlen=replay_size)
        self._subscribers: set[Subscription] = set()
        self._started = False

    async def start(self) -> None:
        await self.transport.start(self.deliver)
        self._started = True

    async def stop(self) -> None:
        self._started = False
        await self.transport.stop()

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    def publish(self, space_id: str, thread_id: str | None, type_: str, data: Any) -> None:
        """Send an event to every subscriber in every process. Never blocks the writer.
        With ``thread_id`` None the event is about the space: only space streams get it."""
        if not self._started:
            return
        event = Event(new_event_id(), type_, space_id, thread_id, data, now_ts())
        try:
            self.transport.send(event)
        except Exception:  # events are best effort; the write already happened
            log.warning("publishing a %s event failed", type_, exc_info=True)

    def deliver(self, event: Event) -> None:
        self._recent.append(event)
        for subscriber in list(self._subscribers):
            if subscriber.matches(event):
                subscriber.offer(event)

    def subscribe(
        self, space_id: str, thread_id: str | None = None, after: str | None = None
    ) -> tuple[Subscription, list[Event], bool]:
        """A new subscription, the recent events after event id ``after`` that it matches,
        and whether ``after`` was found in the replay window (always True without it).

        Registering and taking the replay happen without a pause between them, so nothing
        is missed or repeated between the two."""
        subscription = Subscription(self, space_id, thread_id, self.queue_size)
        self._subscribers.add(subscription)
        if after is None:
            return subscription, [], True
        replay: list[Event] = []
        found = False
        for event in self._recent:
            if found:
                if subscription.matches(event):
                    replay.append(event)
            elif event.id == after:
                found = True
        return subscription, replay, found

    def drop(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
