"""Server logs: one line per record, as text or as JSON, each carrying its request's id.

``logging_config(level, fmt)`` is the one configuration: ``threadloom serve`` applies it and
hands it to uvicorn, which applies it again in every worker process. The request id comes
from ``request_id_var``, which the server's middleware sets for each request.

Nothing here logs headers or bodies: an access line names the method, the route template,
the status and the duration, never the query string, an API key or a request body.
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

__all__ = [
    "ACCESS_LOGGER",
    "JsonFormatter",
    "LogFormat",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
    "logging_config",
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
