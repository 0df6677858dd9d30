"""Time as the service writes it: fixed-width RFC 3339 text in UTC, which sorts like time.

Every layer uses these (the stores, the services, the event hub), so they live here rather
than in any one of them.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["format_ts", "now_ts", "parse_ts", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(value: datetime) -> str:
    """Fixed-width RFC 3339 in UTC, e.g. ``2026-11-22T19:40:00.123456Z`` (sorts like time)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


_second: tuple[int, str] = (-1, "")
"""The last second ``now_ts`` formatted, and its text up to the decimal point."""


def now_ts() -> str:
    """``format_ts(utc_now())``, at a quarter of its cost: the text up to the second is
    formatted once a second and the microseconds appended (both floor the clock's time)."""
    global _second
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    second = _second  # one read: another thread may replace it meanwhile
    if second[0] != seconds:
        text = format_ts(datetime.fromtimestamp(seconds, UTC))
        second = _second = (seconds, text[: -len("000000Z")])
    return f"{second[1]}{micros:06d}Z"


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value)
