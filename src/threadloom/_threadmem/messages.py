"""``RoleMessage``: one message of a role thread, as the original ``threadmem`` had it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from ..access import Access, pages
from ..errors import AlreadyExists, NotFound
from ..ids import new_id
from ..models import Message, MessageCreate, MessageListQuery, Thread, ThreadListQuery
from .access import BATCH, SPACE, local_access
from .images import ImageLike, to_image_urls
from .records import RoleMessageRecord
from .schemas import V1RoleMessage

__all__ = ["IMAGE_TAG", "RoleMessage", "message_id", "message_pages", "seconds"]

IMAGE_TAG = "<image>"
_MESSAGE_FILTERS = frozenset(
    {"id", "thread_id", "role", "text", "private", "metadata", "meta_data"}
)


def message_id() -> str:
    """A new message id, of the same form as the server's."""
    return new_id("msg")


def seconds(text: str) -> float:
    """An RFC 3339 timestamp of the API as unix seconds."""
    return datetime.fromisoformat(text).timestamp()


class RoleMessage:
    """A message of a role thread: text, images (URLs), a private flag and metadata.

    Constructing one writes nothing (a message is stored in a thread: ``thread.add_msg(msg)``
    or, with ``thread_id`` set, ``msg.save()``). It keeps the ``id`` it was given at
    construction once stored; ``created`` becomes the time the store recorded.
    """

    id: str
    role: str
    text: str
    thread_id: str | None
    images: list[str]
    private: bool | None
    metadata: dict[str, Any] | None
    created: float

    def __init__(
        self,
        role: str,
        text: str,
        thread_id: str | None = None,
        images: Iterable[ImageLike] = (),
        private: bool | None = False,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.role = role
        self.text = text
        self.thread_id = thread_id
        self.images = to_image_urls(images) if images else []
        self.private = private
        self.created = time.time()
        self.id = message_id()
        self.metadata = dict(metadata) if metadata is not None else None

    def __repr__(self) -> str:
        return f"RoleMessage(id={self.id!r}, role={self.role!r}, text={self.text!r})"

    # storing --------------------------------------------------------------------------

    def to_create(self) -> MessageCreate:
        """The native append body (keeping this message's id), validated. Fields equal to
        their defaults are left out: the body is the same, and validating it is cheaper."""
        fields: dict[str, Any] = {"id": self.id, "role": self.role, "content": self.text}
        if self.images != []:
            fields["images"] = self.images
        if self.private:
            fields["private"] = True
        if self.metadata:
            fields["metadata"] = self.metadata
        return MessageCreate.model_validate(fields)

    @classmethod
    def from_row(cls, row: Message) -> RoleMessage:
        """From a native message."""
        obj = cls.__new__(cls)
        obj.id = row.id
        obj.role = row.role
        obj.text = row.content
        obj.images = list(row.images)
        obj.private = row.private
        obj.metadata = row.metadata or None
        obj.created = seconds(row.created_at)
        obj.thread_id = row.thread_id
        return obj

    def save(self) -> None:
        """Append this message to its thread (``thread_id``) in the local database. Stored
        messages never change, so saving one that is already there does nothing."""
        if self.thread_id is None:
            raise ValueError("set thread_id to save a message (or use RoleThread.add_msg)")
        try:
            rows = local_access().append_messages(SPACE, self.thread_id, [self.to_create()])
        except AlreadyExists:
            return
        self.created = seconds(rows[0].created_at)

    @classmethod
    def find(cls, **kwargs: Any) -> list[RoleMessage]:
        """Messages of the local database matching every filter, oldest first. Filters:
        ``thread_id`` (give it: without it every thread of the space is read), ``role`` and
        ``private`` (applied by the store), ``id``, ``text`` and ``metadata`` (or
        ``meta_data``, as the original's JSON text)."""
        unknown = set(kwargs) - _MESSAGE_FILTERS
        if unknown:
            raise TypeError(
                f"RoleMessage.find() filters on {', '.join(sorted(_MESSAGE_FILTERS))}; "
                f"not {', '.join(sorted(unknown))}"
            )
        filters = dict(kwargs)
        if "meta_data" in filters:
            meta = filters.pop("meta_data")
            filters["metadata"] = json.loads(meta) if isinstance(meta, str) else meta
        access = local_access()
        if "thread_id" in filters:
            thread_id = filters.pop("thread_id")
            thread_ids = [thread_id] if thread_id is not None else []
        else:
            thread_ids = [thread.id for thread in _every_thread(access)]
        found: list[RoleMessage] = []
        for thread_id in thread_ids:
            found.extend(_matching(access, thread_id, filters))
        if len(thread_ids) > 1:
            found.sort(key=lambda message: message.created)
        return found

    # the original's conversions -----------------------------------------------------------

    @classmethod
    def from_openai(cls, msg: Mapping[str, Any]) -> RoleMessage:
        """From an OpenAI chat message. Its content is a string or a list of ``text`` and
        ``image_url`` parts; with one text part the text is that part and the images follow
        it (as the original read them); with several, the text joins them with an
        ``<image>`` tag where each image stood, so ``to_openai`` gives the parts back in
        order (the original kept only the last text part)."""
        content = msg.get("content")
        if content is None or isinstance(content, str):
            return cls(role=msg["role"], text=content or "")
        texts: list[str] = []
        images: list[str] = []
        pieces: list[str] = []
        for part in content:
            if part.get("type") == "text":
                texts.append(part["text"])
                if pieces and pieces[-1] != IMAGE_TAG:
                    pieces.append("\n")
                pieces.append(part["text"])
            elif part.get("type") == "image_url":
                image = part["image_url"]
                images.append(image["url"] if isinstance(image, Mapping) else image)
                pieces.append(IMAGE_TAG)
        text = "".join(pieces) if len(texts) > 1 else (texts[0] if texts else "")
        return cls(role=msg["role"], text=text, images=images)

    def to_openai(self) -> dict[str, Any]:
        """As an OpenAI chat message with a list of content parts. Each ``<image>`` tag in the
        text stands for the next image (their numbers must match); without tags the images
        follow the text."""
        content: list[dict[str, Any]] = []
        parts = self.text.split(IMAGE_TAG) if self.text else [""]
        tags = len(parts) - 1
        if tags and tags != len(self.images):
            raise ValueError(
                f"Number of {IMAGE_TAG} tags ({tags}) must match number of images "
                f"({len(self.images)})"
            )
        for index, part in enumerate(parts):
            if part.strip():
                content.append({"type": "text", "text": part.strip()})
            if index < tags:
                content.append(_image_part(self.images[index]))
        if not tags:
            content.extend(_image_part(url) for url in self.images)
        return {"role": self.role, "content": content}

    def to_record(self) -> RoleMessageRecord:
        return RoleMessageRecord(
            id=self.id,
            role=self.role,
            text=self.text,
            images=json.dumps(self.images),
            private=self.private,
            created=self.created,
            meta_data=json.dumps(self.metadata) if self.metadata else None,
            thread_id=self.thread_id,
        )

    @classmethod
    def from_record(cls, record: RoleMessageRecord) -> RoleMessage:
        obj = cls.__new__(cls)
        obj.id = record.id
        obj.role = record.role
        obj.text = record.text
        obj.images = json.loads(record.images) if record.images else []
        obj.private = record.private
        obj.created = record.created
        obj.metadata = json.loads(record.meta_data) if record.meta_data else None
        obj.thread_id = record.thread_id
        return obj

    def to_v1(self) -> V1RoleMessage:
        return V1RoleMessage(
            id=self.id,
            role=self.role,
            text=self.text,
            images=list(self.images),
            private=self.private,
            metadata=self.metadata,
            created=self.created,
            thread_id=self.thread_id,
        )

    @classmethod
    def from_v1(cls, schema: V1RoleMessage) -> RoleMessage:
        obj = cls.__new__(cls)
        obj.id = str(schema.id)
        obj.role = schema.role
        obj.text = schema.text
        obj.images = list(schema.images)
        obj.private = schema.private
        obj.created = schema.created
        obj.metadata = schema.metadata
        obj.thread_id = schema.thread_id
        return obj


def _image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def message_pages(
    access: Access,
    thread_id: str,
    *,
    include_private: bool = True,
    role: str | None = None,
) -> Iterator[list[Message]]:
    """A thread's messages, oldest first, one page (``BATCH`` messages) at a time."""
    query = MessageListQuery(limit=BATCH, include_private=include_private, role=role)
    while True:
        page = access.list_messages(SPACE, thread_id, query)
        if page.data:
            yield page.data
        if not page.has_more:
            return
        query = query.model_copy(update={"after": page.last_id})


def _every_thread(access: Access) -> Iterator[Thread]:
    query = ThreadListQuery(limit=BATCH, status="all", order_by="created_at", order="asc")
    return pages(
        lambda after: access.list_threads(SPACE, query.model_copy(update={"after": after}))
    )


def _matching(access: Access, thread_id: str, filters: Mapping[str, Any]) -> Iterator[RoleMessage]:
    private = filters.get("private")
    found = message_pages(
        access, thread_id, include_private=private is not False, role=filters.get("role")
    )
    try:
        for rows in found:
            for row in rows:
                message = RoleMessage.from_row(row)
                if all(_field_matches(message, name, value) for name, value in filters.items()):
                    yield message
    except NotFound:
        return


def _field_matches(message: RoleMessage, name: str, value: Any) -> bool:
    if name == "private":
        return bool(message.private) == bool(value)
    if name == "metadata":
        return (message.metadata or None) == (value or None)
    matched: bool = getattr(message, name) == value
    return matched
