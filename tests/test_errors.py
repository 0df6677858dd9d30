"""The drawings of the exception tree say what the classes are: every class of the hierarchy,
under its own base class, with its HTTP status. A class added to ``errors.py`` without its
line in the drawing fails here (``ThreadBusy`` once went missing)."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

import pytest

import threadloom.errors
import threadloom.llm.base
from threadloom.errors import ProviderError, ThreadloomError

# One line of a drawing: the branches, the class's name, then its status (none for the root).
BRANCH = re.compile(
    r"^(?P<prefix>(?:│   |    )*(?:├── |└── )?)(?P<name>\w+)(?:\s+(?P<status>\S+))?"
)


@dataclass(frozen=True)
class Drawn:
    name: str
    parent: str | None
    status: str | None


def drawn_tree(docstring: str) -> list[Drawn]:
    """The classes of the first tree drawn in ``docstring`` (the literal block after ``::``
    that starts with ``ThreadloomError``), each with the class drawn above it."""
    lines = docstring.split("::\n\n", 1)[1].splitlines()
    indent = len(lines[0]) - len(lines[0].lstrip())
    drawn: list[Drawn] = []
    parents: list[str] = []  # parents[depth] is the last class drawn at that depth
    for line in lines:
        if not line.strip():
            break
        match = BRANCH.match(line[indent:])
        assert match, f"not a line of the tree: {line!r}"
        depth = len(match["prefix"]) // 4
        del parents[depth:]
        drawn.append(Drawn(match["name"], parents[-1] if parents else None, match["status"]))
        parents.append(match["name"])
    return drawn


def hierarchy(root: type[ThreadloomError]) -> dict[str, type[ThreadloomError]]:
    """``root`` and every class of ``threadloom.errors`` below it, by name."""
    return {
        name: value
        for name, value in vars(threadloom.errors).items()
        if inspect.isclass(value) and issubclass(value, root)
    }


def shown_status(cls: type[ThreadloomError]) -> set[str]:
    # TransportError never comes from an HTTP answer: its status 0 is drawn as ``---``.
    return {"---"} if cls.status == 0 else {str(cls.status)}


@pytest.mark.parametrize(
    ("module", "root"),
    [(threadloom.errors, ThreadloomError), (threadloom.llm.base, ProviderError)],
    ids=["errors", "llm.base"],
)
def test_the_drawing_lists_every_class_under_its_base(
    module: object, root: type[ThreadloomError]
) -> None:
    drawn = drawn_tree(inspect.getdoc(module) or "")
    classes = hierarchy(root)
    names = [line.name for line in drawn]
    assert len(names) == len(set(names)), names
    # The drawing of a subtree starts at ThreadloomError, so that it reads as part of the tree.
    expected = set(classes) | {"ThreadloomError"}
    assert expected - set(names) == set(), "classes missing from the drawing"
    assert set(names) - expected == set(), "lines that are no class of this tree"
    for line in drawn:
        cls = getattr(threadloom.errors, line.name)
        base = cls.__bases__[0]
        assert line.parent == (None if cls is ThreadloomError else base.__name__), line
        if line.name != "ThreadloomError":
            assert shown_status(cls) <= set((line.status or "").split("/")), line


def test_the_classes_are_drawn_in_the_order_they_are_defined() -> None:
    drawn = [line.name for line in drawn_tree(threadloom.errors.__doc__ or "")]
    defined = [name for name in vars(threadloom.errors) if name in hierarchy(ThreadloomError)]
    assert drawn == defined
