import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of
from threadloom.errors import ServiceUnavailable
from threadloom.store.urls import backend_of

pytestmark = pytest.mark.anyio


async def test_healthz_answers_ok(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_names_the_database(api: httpx.AsyncClient, database_url: str) -> None:
    response = await api.get("/readyz")
    assert response.status_code == 200
    expected = backend_of(database_url)
    assert expected in ("sqlite", "postgres", "redis")
    assert response.json() == {"status": "ready", "database": expected}


async def test_readyz_is_503_when_the_database_fails(
    api: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken() -> None:
        raise ServiceUnavailable("the database does not answer")

    monkeypatch.setattr(services_of(app).store, "ping", broken)
    response = await api.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 503


async def test_openapi_documents_problem_responses(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    append = spec["paths"]["/v1/spaces/{space_id}/threads/{thread_id}/messages"]["post"]
    assert "application/problem+json" in append["responses"]["404"]["content"]
    assert "application/problem+json" in append["responses"]["413"]["content"]
