"""The docs stay navigable: their links land somewhere and their tables say each thing once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")],
)
_LINK = re.compile(r"\]\(([^)\s]+)\)")


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


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_every_link_has_a_target(document: Path) -> None:
    broken: list[str] = []
    for target in _LINK.findall(document.read_text()):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked.read_text()):
            broken.append(target)
    assert broken == []


def test_the_readme_links_every_document() -> None:
    linked = {
        (ROOT / target.partition("#")[0]).resolve()
        for target in _LINK.findall((ROOT / "README.md").read_text())
        if not re.match(r"^[a-z]+:", target)
    }
    assert [_name(d) for d in DOCUMENTS if d.name != "README.md" and d not in linked] == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_no_table_repeats_a_row_key(document: Path) -> None:
    repeated: list[str] = []
    for table in _tables(document.read_text()):
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
