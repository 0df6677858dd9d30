"""Every error answer of the server becomes its exception class on the client."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.client.conftest import in_process
from threadloom import (
    AlreadyExists,
    AsyncClient,
    Conflict,
    Forbidden,
    IdempotencyMismatch,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ThreadArchived,
    ThreadloomError,
    Unauthenticated,
    ValidationFailed,
)

pytestmark = pytest.mark.anyio

SPACE = "default"


@pytest.fixture
async def thread(client: AsyncClient) -> str:
    await client.threads.create(SPACE, id="t")
    return "t"


class TestProblemMapping:
    async def test_404_not_found(self, client: AsyncClient) -> None:
        with pytest.raises(NotFound) as caught:
            await client.threads.get(SPACE, "nope")
        assert caught.value.status_code == 404
        assert "nope" in caught.value.detail
        assert caught.value.headers["content-type"].startswith("application/problem+json")

    async def test_409_conflicts(self, client: AsyncClient, thread: str) -> None:
        with pytest.raises(AlreadyExists) as taken:
            await client.threads.create(SPACE, id=thread)
        assert isinstance(taken.value, Conflict)
        assert taken.value.status_code == 409
        await client.threads.archive(SPACE, thread)
        with pytest.raises(ThreadArchived):
            await client.messages.create(SPACE, thread, "late")
        with pytest.raises(Conflict):
            await client.spaces.delete(SPACE)

    async def test_412_precondition_failed(self, client: AsyncClient, thread: str) -> None:
        await client.state.put(SPACE, thread, 1)
        with pytest.raises(PreconditionFailed) as caught:
            await client.state.patch(SPACE, thread, {"a": 1}, if_match=0)
        assert caught.value.status_code == 412
        assert caught.value.headers["etag"] == '"1"'

    async def test_413_payload_too_large(self, client: AsyncClient, thread: str) -> None:
        with pytest.raises(PayloadTooLarge) as caught:
            await client.messages.create(SPACE, thread, "x" * 100_001)
        assert caught.value.status_code == 413
        assert isinstance(caught.value, ValidationFailed)

    async def test_413_body_over_the_limit(self, client: AsyncClient, thread: str) -> None:
        with pytest.raises(PayloadTooLarge):
            await client.state.put(SPACE, thread, "x" * (2 * 1024 * 1024))

    async def test_422_invalid_field(self, client: AsyncClient, thread: str) -> None:
        with pytest.raises(ValidationFailed) as caught:
            await client.messages.create(SPACE, thread, images=["ftp://example.test/a.png"])
        assert caught.value.status_code == 422
        assert caught.value.errors
        assert caught.value.errors[0]["loc"][-1] == "images"

    async def test_422_invalid_id(self, client: AsyncClient) -> None:
        with pytest.raises(ValidationFailed):
            await client.threads.create(SPACE, id="not an id!")
        with pytest.raises(ValidationFailed):
            await client.threads.get(SPACE, "not an id!")

    async def test_422_idempotency_key_reused(self, client: AsyncClient) -> None:
        await client.threads.create(SPACE, title="one", idempotency_key="k")
        with pytest.raises(IdempotencyMismatch) as caught:
            await client.threads.create(SPACE, title="another", idempotency_key="k")
        assert caught.value.status_code == 422

    async def test_401_and_403_with_keys(self, app: FastAPI, client: AsyncClient) -> None:
        reader = await client.keys.create(role="reader", space=SPACE)
        with pytest.raises(Unauthenticated) as keyless:
            await client.threads.list(SPACE)  # a key exists now: keyless requests are refused
        assert keyless.value.status_code == 401
        assert "www-authenticate" in keyless.value.headers
        async with in_process(app, reader.key) as as_reader:
            assert (await as_reader.threads.list(SPACE)).data == []
            with pytest.raises(Forbidden) as caught:
                await as_reader.threads.create(SPACE)
            assert caught.value.status_code == 403
            with pytest.raises(Forbidden):
                await as_reader.keys.list()
            with pytest.raises(NotFound):  # another space does not exist for this key
                await as_reader.threads.list("elsewhere")
        async with in_process(app, "tl_not-a-key") as wrong:
            with pytest.raises(Unauthenticated):
                await wrong.threads.list(SPACE)


class TestNonProblemAnswers:
    """Answers that are not problem documents (a proxy, a load balancer) still raise."""

    @pytest.mark.parametrize(
        ("status", "body", "content_type", "expected"),
        [
            (404, "<html>gone</html>", "text/html", NotFound),
            (502, "Bad Gateway", "text/plain", ThreadloomError),
            (400, '{"detail": "bad"}', "application/json", ValidationFailed),
            (500, "", "text/plain", ThreadloomError),
        ],
    )
    async def test_status_decides(
        self, status: int, body: str, content_type: str, expected: type[ThreadloomError]
    ) -> None:
        transport = httpx.MockTransport(
            lambda _: httpx.Response(status, text=body, headers={"content-type": content_type})
        )
        async with AsyncClient("http://test", transport=transport, max_retries=0) as client:
            with pytest.raises(expected) as caught:
                await client.threads.get(SPACE, "t")
        assert type(caught.value) is expected
        assert caught.value.status_code == status
        assert caught.value.detail


def test_provider_problems_come_back_as_their_classes() -> None:
    from threadloom.errors import ProviderRateLimited, ProviderTimeout, error_for_problem

    limited = ProviderRateLimited(provider="groq", upstream_status=429, upstream_message="slow")
    rebuilt = error_for_problem(502, limited.to_problem("/x"))
    assert type(rebuilt) is ProviderRateLimited
    assert rebuilt.detail == limited.detail
    timeout = error_for_problem(504, ProviderTimeout(provider="openai").to_problem())
    assert type(timeout) is ProviderTimeout
