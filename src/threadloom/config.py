"""The one typed configuration of the server, read from ``THREADLOOM_*`` variables and ``.env``.

Nothing reads the environment at import time: build ``Settings()`` and pass it along.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

if TYPE_CHECKING:
    from .llm.config import LLMConfig

__all__ = ["Limits", "Settings", "default_database_url"]


def default_database_url() -> str:
    data_dir = Path.home() / ".local" / "share" / "threadloom"
    return f"sqlite:///{data_dir / 'threadloom.db'}"


class Limits(BaseSettings):
    """Sizes past which a request is refused with a problem and nothing is written."""

    model_config = SettingsConfigDict(env_prefix="THREADLOOM_LIMIT_", extra="ignore")

    request_body_bytes: int = Field(1024 * 1024, ge=1024)
    message_content_chars: int = Field(100_000, ge=1)
    metadata_bytes: int = Field(16 * 1024, ge=2)
    images_per_message: int = Field(16, ge=0)
    image_url_chars: int = Field(512 * 1024, ge=16)
    state_bytes: int = Field(256 * 1024, ge=2)
    title_chars: int = Field(512, ge=1)
    batch_messages: int = Field(100, ge=1, le=1000)
    state_history_versions: int = Field(100, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="THREADLOOM_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(default_factory=default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    insecure: bool = False
    """Serve without API keys on a non-loopback address (never do this on a network)."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated origins allowed to call the API from a browser."""
    cors_allow_credentials: bool | None = None
    """Let browsers send cookies and HTTP authentication cross-origin. Unset: yes for listed
    origins, no with ``*``; ``true`` with ``*`` answers each request with its own origin, as
    the original threaded-assistant design configured its app."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object a line, for log collectors; ``text``: one readable line."""
    metrics_enabled: bool = True
    """Count requests and store operations and serve them at ``/metrics``."""
    metrics_public: bool = False
    """Serve ``/metrics`` without an admin key (for a scraper inside a private network)."""
    migrate_on_start: bool = True
    postgres_pool_size: int = Field(16, ge=1)
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL"] = "NORMAL"
    redis_prefix: str = Field("threadloom", min_length=1)
    """What every Redis key starts with, so several stores can share one database."""
    redis_url: str | None = None
    """Redis for live events across server processes (``redis://HOST:PORT/DB``); without it,
    a subscriber sees only the events of the process it is connected to."""
    events_replay_size: int = Field(1000, ge=0)
    """How many recent events each process keeps for clients that reconnect."""
    events_queue_size: int = Field(1000, ge=1)
    """How far a subscriber may fall behind before it is told so and disconnected."""
    header_timeout_seconds: float = Field(10.0, gt=0)
    """How long a client may take to send a request's line and headers (from the
    connection's opening, or the request's first byte); then its connection is closed."""
    body_timeout_seconds: float = Field(30.0, gt=0)
    """How long the server waits for a request's whole body (from the end of its head;
    under another ASGI server than ``threadloom serve``, from the application's first read);
    then it answers 408 and closes the connection."""
    busy_timeout_ms: int = Field(10_000, ge=0)
    idempotency_ttl_seconds: int = Field(24 * 3600, ge=3600)
    retention_sweep_seconds: float = Field(60.0, gt=0)
    """How long the server waits between two sweeps of expired threads. An expired thread
    reads as missing at once; the sweep reclaims its storage."""
    key_cache_seconds: float = Field(5.0, ge=0)
    """How long a looked-up API key is trusted before it is read again (revocation delay)."""
    limits: Limits = Field(default_factory=Limits)
    llm_provider: Literal["offline", "openai"] | None = None
    """``offline`` or ``openai`` (any OpenAI-compatible API); unset: ``openai`` when a key or
    base URL is configured, else ``offline``."""
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = Field(60.0, gt=0)
    llm_max_retries: int = Field(2, ge=0, le=10)
    llm_system_prompt: str = "You are a helpful assistant."
    """The system prompt of the built-in default assistant, which answers in a space that has
    no assistant ``default``."""
    llm_context_tokens: int = Field(8192, ge=256)
    """The context budget in tokens of the built-in default assistant, and of a new assistant
    that does not set ``context_tokens``."""
    chat_lease_seconds: float = Field(30.0, ge=1)
    """How long a thread stays locked for a reply whose server process died (it is renewed
    every third of this while a reply streams)."""
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    groq_api_key: SecretStr | None = Field(None, validation_alias="GROQ_API_KEY")

    def llm_config(self) -> LLMConfig:
        """The LLM provider these settings name (a bad combination raises ValueError)."""
        from .llm.config import resolve_llm_config

        def reveal(secret: SecretStr | None) -> str | None:
            return secret.get_secret_value() if secret is not None else None

        env = {
            name: value
            for name, value in (
                ("OPENAI_API_KEY", reveal(self.openai_api_key)),
                ("GROQ_API_KEY", reveal(self.groq_api_key)),
            )
            if value
        }
        return resolve_llm_config(
            provider=self.llm_provider,
            model=self.llm_model,
            base_url=self.llm_base_url,
            api_key=reveal(self.llm_api_key),
            timeout=self.llm_timeout_seconds,
            max_retries=self.llm_max_retries,
            env=env,
        )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
