"""Event stream helpers: a reader of Server-Sent Events over a real connection, and Redis."""

from __future__ import annotations

import json
import os
import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis

from tests.fixtures.services import service_missing

REDIS_ENV = "THREADLOOM_TEST_REDIS_URL"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_events_env() -> dict[str, str]:
    """Server environment that fans events out through the test Redis, on a prefix of its own."""
    url = os.environ.get(REDIS_ENV, DEFAULT_REDIS)
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.ping()
        client.close()
    except (redis.RedisError, OSError) as exc:
        service_missing(f"Redis at {url} is unreachable: {exc}")
    prefix = f"tl-test-{uuid.uuid4().hex}"
    return {"THREADLOOM_REDIS_URL": url, "THREADLOOM_REDIS_PREFIX": prefix}


@dataclass
class SSEEvent:
    event: str
    id: str | None
    data: Any


@dataclass
class EventReader:
    """Reads an event stream on a thread of its own; events arrive in ``events``."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    events: queue.Queue[SSEEvent | None] = field(default_factory=queue.Queue)
    status: int | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _opened: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> EventReader:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the stream did not open"
        return self

    def _run(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10, read=60)) as client,
                client.stream("GET", self.url, headers=self.headers) as response,
            ):
                self.status = response.status_code
                self._opened.set()
                name = "message"
                event_id: str | None = None
                data: list[str] = []
                for line in response.iter_lines():
                    if self._stop.is_set():
                        return
                    if line == "":
                        if data:
                            self.events.put(SSEEvent(name, event_id, json.loads("\n".join(data))))
                        name, event_id, data = "message", None, []
                    elif line.startswith("event:"):
                        name = line[6:].strip()
                    elif line.startswith("id:"):
                        event_id = line[3:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
        except httpx.HTTPError:
            pass
        finally:
            self._opened.set()
            self.events.put(None)

    def take(
        self, count: int, *, kinds: tuple[str, ...] = (), timeout: float = 20
    ) -> list[SSEEvent]:
        """The next ``count`` events (of ``kinds`` only, when given)."""
        taken: list[SSEEvent] = []
        while len(taken) < count:
            item = self.events.get(timeout=timeout)
            if item is None:
                raise AssertionError(f"the stream ended after {taken}")
            if not kinds or item.event in kinds:
                taken.append(item)
        return taken

    def close(self) -> None:
        self._stop.set()


@pytest.fixture
def readers() -> Iterator[list[EventReader]]:
    opened: list[EventReader] = []
    yield opened
    for reader in opened:
        reader.close()
