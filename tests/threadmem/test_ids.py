"""Message ids made by the library have the form of the server's (``ids.new_id``)."""

from __future__ import annotations

import re

from threadloom._threadmem.messages import message_id
from threadloom.ids import is_valid_id, new_id

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _millis(identifier: str) -> int:
    value = 0
    for char in identifier[4:14]:
        value = value * 32 + CROCKFORD.index(char)
    return value


def test_message_ids_look_like_server_ids() -> None:
    ours, theirs = message_id(), new_id("msg")
    assert re.fullmatch(r"msg_[0-9a-hjkmnp-tv-z]{26}", ours)
    assert len(ours) == len(theirs)
    assert is_valid_id(ours)
    assert abs(_millis(ours) - _millis(theirs)) < 1000


def test_message_ids_are_unique_and_ordered_by_time() -> None:
    made = [message_id() for _ in range(10_000)]
    assert len(set(made)) == len(made)
    assert [_millis(i) for i in made] == sorted(_millis(i) for i in made)
