"""The hosted OpenAI-compatible services threadloom knows by name: their base URLs, the
environment variable that holds each one's key, and the model used when none is set.

Both ``config.py`` (which resolves settings to an endpoint) and ``openai_compat.py`` (which
talks to one) read these; this module imports nothing, so neither imports the other to get
them.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MODELS", "GROQ_BASE_URL", "KEY_VARIABLES", "OPENAI_BASE_URL"]

OPENAI_BASE_URL = "https://api.openai.com/v1"
GROQ_BASE_URL = "https://api.groq.com/openai/v1"

DEFAULT_MODELS = {"api.openai.com": "gpt-4o-mini", "api.groq.com": "llama-3.1-8b-instant"}
"""Models used when none is configured, by host (small, cheap, and long-lived)."""

KEY_VARIABLES = {"api.openai.com": "OPENAI_API_KEY", "api.groq.com": "GROQ_API_KEY"}
"""The environment variable of each host's own key; never sent to any other host."""
