"""Message ids made by the library have the form of the server's (``ids.new_id``)."""

from __future__ import annotations

import os
import re
import time
from collections import Counter

import pytest

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


def test_new_id_has_the_prefix_the_creation_millisecond_and_16_random_characters() -> None:
    before = time.time_ns() // 1_000_000
    made = new_id("evt")
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(r"evt_[0-9a-hjkmnp-tv-z]{26}", made)
    assert before <= _millis(made) <= after
    assert made[4:14] == _base32(_millis(made), 10)


def test_new_id_time_part_never_decreases_and_random_parts_differ() -> None:
    made = [new_id("x") for _ in range(50_000)]
    times = [identifier[2:12] for identifier in made]
    assert times == sorted(times)
    assert len({identifier[12:] for identifier in made}) == len(made)


def test_new_id_random_part_uses_every_character_evenly_at_every_position() -> None:
    random_parts = [new_id("m")[12:] for _ in range(20_000)]
    for position in range(16):
        counts = Counter(part[position] for part in random_parts)
        assert set(counts) == set(CROCKFORD)
        # 625 expected per character; a fair source is within 625 +- 150 with overwhelming
        # probability, a biased mapping (say, one character twice as likely) is not
        assert all(475 < count < 775 for count in counts.values()), counts


def test_new_id_random_part_comes_from_os_urandom(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "urandom", lambda size: bytes(range(size)))
    assert new_id("msg")[14:] == CROCKFORD[:16]
    monkeypatch.setattr(os, "urandom", lambda size: bytes(range(256 - size, 256)))
    assert new_id("msg")[14:] == CROCKFORD[16:]  # only a byte's low 5 bits count


def _base32(value: int, width: int) -> str:
    chars = ""
    for _ in range(width):
        chars = CROCKFORD[value % 32] + chars
        value //= 32
    return chars
