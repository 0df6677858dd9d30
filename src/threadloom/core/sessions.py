"""The original chat-session API: a session is a thread of the caller's home space.

``/ask`` and ``/chat`` continue a session, creating it on first use; ``/sessions`` lists
them (admin keys); a session's history pairs each user message with the reply to it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from ..errors import AlreadyExists, NotFound
from ..ids import new_id
from ..models import ThreadCreate
from ..store import Store
from ..store.base import MessageQuery, ThreadQuery
from ..store.rows import MessageRow
from .auth import Principal
from .chat import ChatRun, ChatService
from .privacy import shows_private
from .spaces import home_space
from .threads import ThreadService

__all__ = ["SessionService"]

PAGE_SIZE = 100


class SessionService:
    def __init__(self, store: Store, threads: ThreadService, chat: ChatService) -> None:
        self.store = store
        self.threads = threads
        self.chat = chat

    async def new(self, principal: Principal) -> str:
        thread, _ = await self.threads.create(
            principal, home_space(principal), ThreadCreate(id=new_id("ses"))
        )
        return str(thread["id"])

    async def _ensure(self, principal: Principal, session_id: str | None) -> str:
        space_id = home_space(principal)
        if session_id is None:
            return await self.new(principal)
        if await self.store.get_thread(space_id, session_id) is None:
            try:
                await self.threads.create(principal, space_id, ThreadCreate(id=session_id))
            except AlreadyExists:  # a concurrent first use made it
                pass
        return session_id

    async def start(
        self, principal: Principal, session_id: str | None, text: str
    ) -> tuple[str, ChatRun]:
        """Continue (or begin) a session with the user's ``text``: the session id and the
        running reply of the space's default assistant (or the one ``text`` unlocks)."""
        principal.require_writer(home_space(principal))
        session_id = await self._ensure(principal, session_id)
        run = await self.chat.start(principal, home_space(principal), session_id, text)
        return session_id, run

    async def ids(self, principal: Principal, limit: int) -> list[str]:
        """The ids of the active sessions, most recently used first (admin keys)."""
        principal.require_admin()
        space_id = home_space(principal)
        ids: list[str] = []
        after: tuple[str, str] | None = None
        while len(ids) < limit:
            query = ThreadQuery(limit=min(PAGE_SIZE, limit - len(ids)), after=after)
            page = await self.store.list_threads(space_id, query)
            ids.extend(row["id"] for row in page.rows)
            if not page.has_more or not page.rows:
                break
            last = page.rows[-1]
            after = (last["updated_at"], last["id"])
        return ids

    async def history(
        self, principal: Principal, session_id: str, limit: int
    ) -> list[dict[str, Any]]:
        """The session's newest ``limit`` turns, oldest first: each user message (``input``)
        with the assistant's reply to it (``output``, null while there is none)."""
        space_id = home_space(principal)
        principal.require_space(space_id)
        # The original history never had private messages in it, for any key.
        include_private = shows_private(principal, False)
        turns: deque[_Turn] = deque(maxlen=limit)
        by_user_message: dict[str, _Turn] = {}
        after: int | None = None
        while True:
            query = MessageQuery(limit=PAGE_SIZE, after_seq=after, include_private=include_private)
            page = await self.store.list_messages(space_id, session_id, query)
            if page is None:
                raise NotFound(f"session {session_id!r} does not exist")
            for row in page.rows:
                _pair(row, turns, by_user_message)
            if not page.has_more or not page.rows:
                return [{"input": turn.input, "output": turn.output} for turn in turns]
            after = page.rows[-1]["seq"]


@dataclass(slots=True)
class _Turn:
    message_id: str
    input: str
    output: str | None = None


def _pair(row: MessageRow, turns: deque[_Turn], by_id: dict[str, _Turn]) -> None:
    if row["role"] == "user":
        if len(turns) == turns.maxlen:
            by_id.pop(turns[0].message_id, None)
        turn = _Turn(row["id"], row["content"])
        turns.append(turn)
        by_id[turn.message_id] = turn
        return
    if row["role"] != "assistant":
        return
    reply_to = row["metadata"].get("reply_to")
    answered = by_id.get(reply_to) if isinstance(reply_to, str) else None
    if answered is None and turns and turns[-1].output is None:
        answered = turns[-1]  # a reply stored by other means answers the message before it
    if answered is not None and answered.output is None:
        answered.output = row["content"]
