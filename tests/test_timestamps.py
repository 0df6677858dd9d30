"""``now_ts``: the current time as ``format_ts`` writes it, formatted faster."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from threadloom.timestamps import format_ts, now_ts, parse_ts, utc_now

RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"


def test_now_ts_is_fixed_width_rfc3339_between_the_clock_readings_around_it() -> None:
    before = format_ts(utc_now())
    now = now_ts()
    after = format_ts(utc_now())
    assert re.fullmatch(RFC3339, now)
    assert before <= now <= after
    assert parse_ts(now).tzinfo is not None


def test_now_ts_formats_every_instant_as_format_ts_does(monkeypatch: pytest.MonkeyPatch) -> None:
    instants = [
        datetime(2026, 11, 22, 19, 40, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 22, 19, 40, 0, 999999, tzinfo=UTC),  # the same second: cached
        datetime(2026, 11, 22, 19, 40, 1, 0, tzinfo=UTC),  # the next second
        datetime(2026, 11, 22, 19, 39, 59, 7, tzinfo=UTC),  # the clock stepped back
        datetime(2027, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    ]
    for instant in instants:
        seconds = int(instant.replace(microsecond=0).timestamp())
        nanos = seconds * 1_000_000_000 + instant.microsecond * 1000 + 999  # floored
        monkeypatch.setattr(time, "time_ns", lambda nanos=nanos: nanos)
        assert now_ts() == format_ts(instant)


def test_now_ts_never_decreases_while_the_clock_does_not() -> None:
    made = [now_ts() for _ in range(20_000)]
    assert made == sorted(made)
