"""The event hub in one process: matching, the replay window and lagging subscribers."""

from __future__ import annotations

import os
import re

import pytest

from threadloom.events import EventHub, LocalTransport, SubscriberLagged
from threadloom.events.hub import new_event_id
from threadloom.ids import is_valid_id

pytestmark = pytest.mark.anyio


async def _hub(**kwargs: int) -> EventHub:
    hub = EventHub(LocalTransport(), **kwargs)
    await hub.start()
    return hub


async def test_subscribers_get_the_events_of_their_thread_or_space_in_order() -> None:
    hub = await _hub()
    thread_sub, _, _ = hub.subscribe("s", "t1")
    space_sub, _, _ = hub.subscribe("s")
    other_sub, _, _ = hub.subscribe("other")
    for n in range(3):
        hub.publish("s", "t1", "message.created", {"n": n})
    hub.publish("s", "t2", "message.created", {"n": 99})
    events = [await thread_sub.next(1) for _ in range(3)]
    assert [event.data["n"] for event in events if event] == [0, 1, 2]
    assert await thread_sub.next(0.05) is None
    got = [await space_sub.next(1) for _ in range(4)]
    assert [event.thread_id for event in got if event] == ["t1", "t1", "t1", "t2"]
    assert await other_sub.next(0.05) is None


async def test_the_replay_window_resumes_after_an_event_it_still_holds() -> None:
    hub = await _hub(replay_size=5)
    for n in range(8):
        hub.publish("s", "t", "state.updated", {"n": n})
    recent = list(hub._recent)
    _, replay, found = hub.subscribe("s", "t", after=recent[1].id)
    assert found
    assert [event.data["n"] for event in replay] == [5, 6, 7]
    _, replay, found = hub.subscribe("s", "t", after="evt_gone")
    assert (replay, found) == ([], False)


async def test_a_subscriber_that_falls_behind_is_told_and_dropped() -> None:
    hub = await _hub(queue_size=3)
    slow, _, _ = hub.subscribe("s", "t")
    fast, _, _ = hub.subscribe("s", "t")
    for n in range(10):
        hub.publish("s", "t", "message.created", {"n": n})
        assert await fast.next(1) is not None
    assert slow.lagged
    assert hub.open_streams == 1  # the slow one no longer receives anything
    with pytest.raises(SubscriberLagged, match="more than 3 events behind"):
        await slow.next(1)


async def test_nothing_is_published_before_the_hub_starts() -> None:
    hub = EventHub(LocalTransport())
    subscription, _, _ = hub.subscribe("s", "t")
    hub.publish("s", "t", "message.created", {})
    assert await subscription.next(0.05) is None


async def test_event_ids_are_unique_and_increase_in_order_of_publishing() -> None:
    hub = await _hub(replay_size=5000)
    for n in range(5000):
        hub.publish("s", "t", "message.created", {"n": n})
    ids = [event.id for event in hub._recent]
    assert len(set(ids)) == len(ids) == 5000
    assert ids == sorted(ids)
    assert all(re.fullmatch(r"evt_[0-9a-hjkmnp-tv-z]{26}-\d{12}", i) for i in ids)
    assert is_valid_id(ids[0])


def test_a_forked_process_makes_event_ids_of_its_own() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send one id and leave at once
        os.write(write_end, new_event_id().encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    child = os.read(read_end, 100).decode()
    os.close(read_end)
    ours = new_event_id()
    assert re.fullmatch(r"evt_\w{26}-\d{12}", child)
    assert child.rpartition("-")[0] != ours.rpartition("-")[0]
