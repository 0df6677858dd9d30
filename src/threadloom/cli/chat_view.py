"""What ``threadloom chat`` shows besides the reply: its help, the footer of a reply, the
transcript of ``/history``, the assistants table, and one-line errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table
from rich.text import Text

from ..models import Assistant, Message
from .base import describe_error, err, out, report_line

try:  # newer typers vendor click: its exceptions are the ones typer raises
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException  # type: ignore[assignment]

__all__ = ["HELP", "footer", "print_assistants", "print_transcript", "report_error"]

HELP = """\
/new              start a new session
/history          the session's last 20 messages
/assistant [NAME] switch assistant by id or name (alone: list them)
/help             this help
/quit             leave (also Ctrl-D; Ctrl-C stops a reply, and quits at the prompt)
A message that starts with / is sent by writing it with //."""
_ROLE_STYLES = {"user": "bold green", "assistant": "bold magenta"}


def footer(reply: Message) -> str:
    """The assistant, model, tokens and latency of a stored reply, from its metadata."""
    meta: dict[str, Any] = reply.metadata
    usage = meta.get("usage") or {}
    parts = [str(meta.get("assistant") or "assistant"), str(meta.get("model") or "unknown model")]
    if usage.get("total_tokens") is not None:
        parts.append(
            f"{usage['total_tokens']} tokens ({usage.get('prompt_tokens')} in, "
            f"{usage.get('completion_tokens')} out)"
        )
    if meta.get("latency_ms") is not None:
        parts.append(f"{meta['latency_ms']} ms")
    if meta.get("incomplete"):
        parts.append("incomplete")
    return " · ".join(parts)


def print_transcript(messages: Sequence[Message]) -> None:
    """Messages as ``role: content`` lines on stdout (not cut to 80 columns in a pipe)."""
    if not messages:
        err.print("no messages yet")
    for message in messages:
        style = _ROLE_STYLES.get(message.role, "bold")
        line = Text.assemble((f"{message.role}: ", style), message.content.rstrip())
        if message.metadata.get("incomplete"):
            line.append(" [incomplete]", style="dim")
        out.print(line, soft_wrap=not out.is_terminal)


def print_assistants(assistants: Sequence[Assistant], current: str | None) -> None:
    if not assistants:
        err.print("no assistants in this space: the built-in default answers")
        return
    table = Table("", "id", "name", "provider", "model")
    for a in assistants:
        mark = "*" if a.id == (current or "default") else ""
        table.add_row(mark, a.id, a.name, a.provider or "", a.model or "")
    out.print(table)


def report_error(exc: Exception) -> None:
    """One line for a failure the user can act on, as ``Group`` reports a command's; a bug
    is raised (and ends the chat through ``Group``)."""
    if isinstance(exc, ClickException):
        report_line(exc.format_message())
        return
    described = describe_error(exc)
    if described is None:
        raise exc
    report_line(described[0])
