"""Unlock phrases: a private assistant answers whoever writes its phrase in a message.

A phrase is kept as a random salt, ``SHA-256(salt + phrase)`` and its word count, never as
text. Phrases are compared with their whitespace normalized (split, joined with one space),
so a phrase is found by sliding a window of its word count over the words of a message and
hashing each window: one hash per window (two where punctuation surrounds it), so the cost
grows linearly with the message. A window longer than the longest phrase is never hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from ..store.rows import AssistantRow

__all__ = [
    "MAX_PHRASE_CHARS",
    "MIN_PHRASE_CHARS",
    "SHORT_PHRASE_CHARS",
    "SealedPhrase",
    "find_unlock",
    "normalize_phrase",
    "seal_phrase",
]

MIN_PHRASE_CHARS = 1
SHORT_PHRASE_CHARS = 8
"""Phrases shorter than this (once normalized) are accepted with a warning: they are easy
to guess, and easy to write by chance (a six-digit number is one word in a message)."""
MAX_PHRASE_CHARS = 200
PUNCTUATION = ".,;:!?\"'()[]"
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class SealedPhrase:
    """What is stored of a phrase (the columns ``unlock_salt``, ``unlock_hash``,
    ``unlock_words``)."""

    salt: str
    hash: str
    words: int


def normalize_phrase(phrase: str) -> str:
    return " ".join(phrase.split())


def _digest(salt: str, text: str) -> str:
    return hashlib.sha256((salt + text).encode()).hexdigest()


def seal_phrase(phrase: str) -> SealedPhrase:
    """Salt and hash a phrase (already checked not to be blank once normalized)."""
    normalized = normalize_phrase(phrase)
    salt = secrets.token_hex(16)
    return SealedPhrase(salt, _digest(salt, normalized), len(normalized.split()))


def _remove(text: str, start: int, end: int) -> str:
    """``text`` without ``text[start:end]``; the words on either side keep the whitespace
    that was before the removed part."""
    head, tail = text[:start].rstrip(), text[end:].lstrip()
    if head and tail:
        return head + text[len(head) : start] + tail
    return head + tail


def _matches(salt: str, sealed: str, candidate: str) -> bool:
    return hmac.compare_digest(_digest(salt, candidate), sealed)


def _window_candidates(words: Sequence[str], i: int, n: int, chars: int) -> list[str]:
    """The texts a window of ``n`` words from ``i`` may be (``chars`` long as it is): as it
    is, and without the punctuation around it; none longer than any phrase can be."""
    candidates = []
    if chars <= MAX_PHRASE_CHARS:
        candidates.append(" ".join(words[i : i + n]))
    first, last = words[i], words[i + n - 1]
    if n == 1:
        bare_first = bare_last = first.strip(PUNCTUATION)
        trimmed = len(first) - len(bare_first)
    else:
        bare_first, bare_last = first.lstrip(PUNCTUATION), last.rstrip(PUNCTUATION)
        trimmed = len(first) - len(bare_first) + len(last) - len(bare_last)
    if trimmed and chars - trimmed <= MAX_PHRASE_CHARS:
        middle = words[i + 1 : i + n - 1]
        candidates.append(bare_first if n == 1 else " ".join([bare_first, *middle, bare_last]))
    return candidates


def find_unlock(rows: Sequence[AssistantRow], text: str) -> tuple[AssistantRow, str] | None:
    """The first of ``rows`` (assistants with an unlock phrase) whose phrase ``text``
    contains as whole words, and ``text`` without those words; or None."""
    spans = [match.span() for match in _WORD.finditer(text)]
    words = [text[start:end] for start, end in spans]
    # ends[k]: the length of the first k words joined by single spaces, plus one.
    ends = [0]
    for word in words:
        ends.append(ends[-1] + len(word) + 1)
    for row in rows:
        n, salt, sealed = row.get("unlock_words"), row.get("unlock_salt"), row.get("unlock_hash")
        if not n or n > len(words) or not sealed or not salt:
            continue
        for i in range(len(words) - n + 1):
            chars = ends[i + n] - ends[i] - 1
            for candidate in _window_candidates(words, i, n, chars):
                if _matches(salt, sealed, candidate):
                    return row, _remove(text, spans[i][0], spans[i + n - 1][1])
    return None
