"""Event streams of a thread or a space, with resumption after a reconnect.

A thread stream's event ids are ``SEQ.EVENT``: the seq of the newest message the stream has
delivered, and the event's own id. Reconnecting with ``Last-Event-ID`` replays the messages
after ``SEQ`` from the store (so no message is ever missed, however long the client was
away), then the other events after ``EVENT`` still in the replay window. A space stream's ids
are the event ids; it resumes from the replay window only. A space stream also carries the
events about the space itself, whose ``thread_id`` is null: ``threads.purged`` (see
``Event.type``). Either stream says ``replay.incomplete`` when the window no longer holds the
event it resumes from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from ..errors import NotFound, ValidationFailed
from ..events import Event, EventHub, SubscriberLagged, Subscription
from ..store import Store
from ..store.base import MessageQuery
from ..store.rows import ThreadRow
from ..validation import decimal_int64
from .auth import Principal
from .privacy import may_see, shows_private

__all__ = ["LiveEvent", "LiveService"]

PAGE_SIZE = 100
_MESSAGE_EVENTS = frozenset({"message.created", "chat.done"})


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """One event as a stream sends it."""

    type: str
    id: str | None
    data: Any


def _parse_thread_cursor(value: str) -> tuple[int, str | None]:
    seq_text, _, event_id = value.partition(".")
    seq = decimal_int64(seq_text)
    if seq is None:
        raise ValidationFailed(
            "Last-Event-ID is not an id this thread's stream sent",
            errors=[{"loc": ["header", "Last-Event-ID"], "msg": "expected SEQ.EVENT"}],
        )
    return seq, event_id or None


class LiveService:
    def __init__(self, store: Store, hub: EventHub, *, idle_seconds: float = 15.0) -> None:
        self.store = store
        self.hub = hub
        self.idle_seconds = idle_seconds

    @property
    def fans_out(self) -> bool:
        return bool(getattr(self.hub.transport, "fans_out", False))

    async def thread_stream(
        self, principal: Principal, space_id: str, thread_id: str, last_event_id: str | None
    ) -> AsyncIterator[LiveEvent | None]:
        """The stream's events; None when nothing happened for a while (a keep-alive)."""
        principal.require_space(space_id)
        cursor = _parse_thread_cursor(last_event_id) if last_event_id else None
        subscription, replay, found = self.hub.subscribe(
            space_id, thread_id, cursor[1] if cursor else None
        )
        try:
            thread = await self.store.get_thread(space_id, thread_id)
            if thread is None:
                raise NotFound(f"thread {thread_id!r} does not exist")
        except BaseException:
            subscription.close()
            raise
        return self._thread_events(principal, subscription, thread, cursor, replay, found)

    async def _thread_events(
        self,
        principal: Principal,
        subscription: Subscription,
        thread: ThreadRow,
        cursor: tuple[int, str | None] | None,
        replay: list[Event],
        found: bool,
    ) -> AsyncIterator[LiveEvent | None]:
        space_id, thread_id = thread["space_id"], thread["id"]
        seq = cursor[0] if cursor else thread["message_count"]
        last_event = cursor[1] if cursor else None
        try:
            if cursor is not None:
                # Every message after the client's last one, from the store.
                after = seq
                while True:
                    query = MessageQuery(
                        limit=PAGE_SIZE, after_seq=after, include_private=shows_private(principal)
                    )
                    page = await self.store.list_messages(space_id, thread_id, query)
                    if page is None:
                        return
                    for row in page.rows:
                        seq = row["seq"]
                        data = {"type": "message.created", "thread_id": thread_id, "data": row}
                        yield LiveEvent("message.created", f"{seq}.{last_event or ''}", data)
                    if not page.has_more or not page.rows:
                        break
                    after = page.rows[-1]["seq"]
                if cursor[1] is not None and not found:
                    yield _incomplete(f"{seq}.{last_event}", _THREAD_GAP)
            pending = list(replay)
            while True:
                if pending:
                    event: Event | None = pending.pop(0)
                else:
                    event = await subscription.next(self.idle_seconds)
                if event is None:
                    yield None
                    continue
                if not _visible(principal, event):
                    continue
                if event.type == "message.created":
                    if event.data["seq"] <= seq:
                        continue  # sent from the store already
                    seq = event.data["seq"]
                last_event = event.id
                yield LiveEvent(event.type, f"{seq}.{event.id}", event.envelope())
        except SubscriberLagged as exc:
            yield _lagged(str(exc))
        finally:
            subscription.close()

    async def space_stream(
        self, principal: Principal, space_id: str, last_event_id: str | None
    ) -> AsyncIterator[LiveEvent | None]:
        principal.require_space(space_id)
        if await self.store.get_space(space_id) is None:
            raise NotFound(f"space {space_id!r} does not exist")
        subscription, replay, found = self.hub.subscribe(space_id, None, last_event_id)
        return self._space_events(principal, subscription, replay, found, last_event_id)

    async def _space_events(
        self,
        principal: Principal,
        subscription: Subscription,
        replay: list[Event],
        found: bool,
        last_event_id: str | None,
    ) -> AsyncIterator[LiveEvent | None]:
        try:
            if last_event_id is not None and not found:
                yield _incomplete(last_event_id, _SPACE_GAP)
            pending = list(replay)
            while True:
                event = pending.pop(0) if pending else await subscription.next(self.idle_seconds)
                if event is None:
                    yield None
                elif _visible(principal, event):
                    yield LiveEvent(event.type, event.id, event.envelope())
        except SubscriberLagged as exc:
            yield _lagged(str(exc))
        finally:
            subscription.close()


def _visible(principal: Principal, event: Event) -> bool:
    return event.type not in _MESSAGE_EVENTS or may_see(principal, event.data)


_THREAD_GAP = (
    "the event to resume from is no longer in the replay window: the messages since then "
    "were replayed from the store, other events may be missing"
)
_SPACE_GAP = (
    "the event to resume from is no longer in the replay window: events since then may be "
    "missing; read the threads' messages to catch up"
)


def _incomplete(event_id: str, detail: str) -> LiveEvent:
    return LiveEvent("replay.incomplete", event_id, {"detail": detail})


def _lagged(detail: str) -> LiveEvent:
    return LiveEvent("lagged", None, {"detail": f"{detail}; reconnect with Last-Event-ID"})
