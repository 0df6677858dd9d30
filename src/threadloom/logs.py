"""Server logs: one line per record, as text or as JSON, each carrying its request's id.

``logging_config(level, fmt)`` is the one configuration: ``threadloom serve`` applies it and
hands it to uvicorn, which applies it again in every worker process. The request id comes
from ``request_id_var``, which the server's middleware sets for each request.

Nothing here logs headers or bodies: an access line names the method, the route template
(or ``<unmatched>``), the status and the duration, never the raw path, the query string, an
API key or a request body.

Nor does an exception carry request content into a log: its message may quote it (pydantic's
``ValidationError`` shows each ``input_value``, a driver's error its SQL parameters), so a
logged exception shows its traceback (files, lines, functions and their source) and, for each
exception of the chain, its type and only what ``describe_exception`` says about it, never its
message. The formatters here do that for every record, uvicorn's own too; ``redacted(exc)``
gives a stand-in for a record's ``exc_info`` that is safe under any formatter.
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import ValidationError

__all__ = [
    "ACCESS_LOGGER",
    "JsonFormatter",
    "LogFormat",
    "RedactedError",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
    "describe_exception",
    "logging_config",
    "redacted",
    "request_id_var",
]

LogFormat = Literal["text", "json"]
ACCESS_LOGGER = "threadloom.access"
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")

request_id_var: ContextVar[str | None] = ContextVar("threadloom_request_id", default=None)
"""The id of the request being handled (None outside a request)."""


class RequestIdFilter(logging.Filter):
    """Stamps every record with ``request_id`` (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class RedactedError(Exception):
    """Stands in for an exception in a log: the same traceback, and for a message the type
    of the original and what ``describe_exception`` says about it."""


def describe_exception(exc: BaseException) -> str:
    """What a log may say about ``exc``: its type, and facts that hold no request content
    (a validation error's count and kinds, an OS error number, a database SQLSTATE)."""
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    facts = []
    if isinstance(exc, ValidationError):
        kinds = sorted(
            {error["type"] for error in exc.errors(include_url=False, include_input=False)}
        )
        facts.append(f"{exc.error_count()} validation error(s) for {exc.title}: {', '.join(kinds)}")
    if isinstance(exc, BaseExceptionGroup):
        inner = ", ".join(describe_exception(sub) for sub in exc.exceptions)
        facts.append(f"{len(exc.exceptions)} exceptions: {inner}")
    if isinstance(exc, OSError) and exc.errno is not None:
        facts.append(f"errno {exc.errno}")
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        facts.append(f"SQLSTATE {sqlstate}")
    return f"{name}: {'; '.join(facts)}" if facts else f"{name} (message withheld)"


def redacted(exc: BaseException) -> BaseException:
    """A stand-in for ``exc`` and the exceptions it was raised from or during, with their
    tracebacks and without their messages: pass it as a record's ``exc_info``."""
    seen: dict[int, BaseException] = {}

    def stand_in(original: BaseException) -> BaseException:
        if isinstance(original, RedactedError):
            return original
        if id(original) in seen:
            return seen[id(original)]
        copy = RedactedError(describe_exception(original)).with_traceback(original.__traceback__)
        seen[id(original)] = copy
        if original.__cause__ is not None:
            copy.__cause__ = stand_in(original.__cause__)
        if original.__context__ is not None:
            copy.__context__ = stand_in(original.__context__)
        copy.__suppress_context__ = original.__suppress_context__
        return copy

    return stand_in(exc)


def _format_redacted(formatter: logging.Formatter, exc_info: Any) -> str:
    value = exc_info[1] if isinstance(exc_info, tuple) else None
    if not isinstance(value, BaseException):
        return ""
    safe = redacted(value)
    return logging.Formatter.formatException(formatter, (type(safe), safe, safe.__traceback__))


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, and for access
    lines method, path, status and duration_ms."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return _format_redacted(self, ei)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER [REQUEST_ID] MESSAGE``, the request id ``-`` outside a request."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None) or "-"
        line = (
            f"{_timestamp(record)} {record.levelname:<7} {record.name} [{request_id}] "
            f"{record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return _format_redacted(self, ei)


def logging_config(level: str = "info", fmt: LogFormat = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dictionary for the server and uvicorn.

    uvicorn's own access log is left without a handler: the server writes one access line
    per request itself (``threadloom.access``), with the route template and the request id.
    """
    formatter = (
        "threadloom.logs.JsonFormatter" if fmt == "json" else "threadloom.logs.TextFormatter"
    )
    level_name = level.upper()
    handler = {"handlers": ["default"], "level": level_name, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "threadloom.logs.RequestIdFilter"}},
        "formatters": {"default": {"()": formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "threadloom": handler,
            "uvicorn": handler,
            "uvicorn.error": {"level": level_name},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": "WARNING"},
    }


def configure_logging(level: str = "info", fmt: LogFormat = "text") -> None:
    logging.config.dictConfig(logging_config(level, fmt))
