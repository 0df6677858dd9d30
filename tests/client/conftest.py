"""Client fixtures: an ``AsyncClient`` wired to the app in process, and an environment
without the client's variables (so a developer's own settings never leak into a test)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from threadloom import AsyncClient

BASE_URL = "http://localhost"  # keyless requests are served only on loopback


@pytest.fixture(autouse=True)
def client_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THREADLOOM_URL", raising=False)
    monkeypatch.delenv("THREADLOOM_API_KEY", raising=False)


def in_process(app: FastAPI, api_key: str | None = None) -> AsyncClient:
    """An ``AsyncClient`` that talks to ``app`` without a socket, and never retries."""
    return AsyncClient(BASE_URL, api_key, transport=httpx.ASGITransport(app=app), max_retries=0)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[AsyncClient]:
    async with in_process(app) as client:
        yield client
