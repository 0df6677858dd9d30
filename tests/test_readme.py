"""The README stays navigable: its links land somewhere and its tables say each thing once."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _anchors(text: str) -> set[str]:
    """GitHub's heading slugs plus explicit ``<a id="...">`` anchors."""
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', text))
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


def _tables(text: str) -> list[list[str]]:
    tables: list[list[str]] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def test_every_internal_link_has_a_target() -> None:
    text = README.read_text()
    anchors = _anchors(text)
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert links, "the README links to its own sections"
    assert sorted({link for link in links if link not in anchors}) == []


def test_every_relative_file_link_exists() -> None:
    text = README.read_text()
    targets = [
        t for t in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text) if not t.startswith("http")
    ]
    assert targets
    missing = [t for t in targets if not (README.parent / t).exists()]
    assert missing == []


def test_no_table_repeats_a_row_key() -> None:
    text = README.read_text()
    repeated: list[str] = []
    for table in _tables(text):
        seen: set[str] = set()
        for row in table[2:]:  # past the header and its separator
            cells = [cell.strip() for cell in row.split("|")[1:-1]]
            if not cells or not cells[0]:
                continue
            # Names in backticks (routes, variables) must appear once; a plain row (a
            # benchmark scenario on a database) is keyed by its first two cells.
            names = set(re.findall(r"`([^`]+)`", cells[0])) or {" / ".join(cells[:2])}
            repeated.extend(sorted(names & seen))
            seen |= names
    assert repeated == []
