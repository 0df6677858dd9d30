"""Retries and the wire format, against ``httpx.MockTransport``: what is retried and what is
not, the waits (through an injected ``sleep``), one Idempotency-Key per logical create, and
the headers every request carries."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from threadloom import (
    AlreadyExists,
    AsyncClient,
    Client,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    ThreadloomError,
    TransportError,
    ValidationFailed,
    __version__,
)

URL = "http://threadloom.test"
PROBLEMS = "https://threadloom.dev/problems/"
THREAD: dict[str, Any] = {
    "object": "thread",
    "id": "t",
    "space_id": "default",
    "title": None,
    "owner_id": None,
    "public": False,
    "status": "active",
    "metadata": {},
    "state": None,
    "state_version": 0,
    "role_mapping": {},
    "message_count": 0,
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "archived_at": None,
}
STATE: dict[str, Any] = {
    "object": "thread.state",
    "thread_id": "t",
    "state": {},
    "version": 4,
    "updated_at": None,
}

ROLE: dict[str, Any] = {
    "name": "assistant",
    "user_id": "u-7",
    "user_name": "Ada",
    "icon": "a.png",
    "description": None,
}

Answer = httpx.Response | type[httpx.TransportError]


def problem(status: int, slug: str, retry_after: str | None = None) -> httpx.Response:
    body = {"type": PROBLEMS + slug, "title": slug, "status": status, "detail": slug}
    headers = {"content-type": "application/problem+json"}
    if retry_after is not None:
        headers["retry-after"] = retry_after
    return httpx.Response(status, json=body, headers=headers)


def created(body: dict[str, Any] = THREAD) -> httpx.Response:
    return httpx.Response(201, json=body)


class Server:
    """Answers requests in turn from a script (the last answer repeats; an exception class
    is raised instead), and records the requests and the client's waits between them."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, httpx.Response):
            return answer
        raise answer("scripted failure", request=request)

    def header(self, name: str) -> list[str | None]:
        return [request.headers.get(name) for request in self.requests]


def client_for(server: Server, **options: Any) -> Client:
    return Client(URL, transport=httpx.MockTransport(server), sleep=server.sleeps.append, **options)


def async_client_for(server: Server, **options: Any) -> AsyncClient:
    async def sleep(seconds: float) -> None:
        server.sleeps.append(seconds)

    return AsyncClient(URL, transport=httpx.MockTransport(server), sleep=sleep, **options)


class TestRetried:
    def test_503_then_created_reuses_the_idempotency_key(self) -> None:
        server = Server(problem(503, "service-unavailable", retry_after="2"), created())
        with client_for(server) as client:
            assert client.threads.create("default", id="t").id == "t"
        keys = server.header("idempotency-key")
        assert len(keys) == 2
        assert keys[0] == keys[1]
        assert keys[0]
        assert server.requests[0].content == server.requests[1].content
        assert server.sleeps == [2.0]

    @pytest.mark.anyio
    async def test_async_503_then_created(self) -> None:
        server = Server(problem(503, "service-unavailable", retry_after="1.5"), created())
        async with async_client_for(server) as client:
            thread = await client.threads.create("default", id="t")
        assert thread.id == "t"
        assert len(set(server.header("idempotency-key"))) == 1
        assert server.sleeps == [1.5]

    def test_429_waits_retry_after(self) -> None:
        server = Server(
            problem(429, "rate-limited", retry_after="3"),
            httpx.Response(200, json=THREAD),
        )
        with client_for(server) as client:
            client.threads.get("default", "t")
        assert server.sleeps == [3.0]
        assert len(server.requests) == 2

    def test_retry_after_is_capped_and_dates_fall_back_to_backoff(self) -> None:
        server = Server(
            problem(503, "service-unavailable", retry_after="3600"),
            problem(503, "service-unavailable", retry_after="Wed, 21 Oct 2037 07:28:00 GMT"),
            httpx.Response(200, json=THREAD),
        )
        with client_for(server) as client:
            client.threads.get("default", "t")
        assert server.sleeps[0] == Client.retry_after_cap == 30.0
        assert 0.2 <= server.sleeps[1] <= 0.4  # the second retry's backoff

    def test_connection_error_then_success(self) -> None:
        server = Server(httpx.ConnectError, created())
        with client_for(server) as client:
            client.threads.create("default")
        assert len(server.requests) == 2
        assert 0.1 <= server.sleeps[0] <= 0.2

    def test_request_in_progress_waits_for_the_first_attempt(self) -> None:
        server = Server(
            httpx.ReadTimeout,
            problem(409, "request-in-progress", retry_after="1"),
            created(),
        )
        with client_for(server) as client:
            assert client.threads.create("default").id == "t"
        assert len(set(server.header("idempotency-key"))) == 1
        assert len(server.requests) == 3
        assert server.sleeps[1] == 1.0

    def test_backoff_doubles_up_to_the_cap(self) -> None:
        server = Server(httpx.ConnectTimeout)
        with client_for(server, max_retries=6) as client, pytest.raises(TransportError):
            client.threads.get("default", "t")
        ceilings = [0.2, 0.4, 0.8, 1.6, 3.2, 5.0]
        assert len(server.sleeps) == 6
        assert all(c / 2 <= s <= c for s, c in zip(server.sleeps, ceilings, strict=True))

    @pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.RemoteProtocolError])
    def test_failure_after_sending_retries_a_repeatable_call(
        self, failure: type[httpx.TransportError]
    ) -> None:
        server = Server(failure, httpx.Response(200, json=STATE))
        with client_for(server) as client:
            assert client.state.patch("default", "t", {"a": 1}).version == 4
        assert len(server.requests) == 2


class TestNotRetried:
    @pytest.mark.parametrize(
        ("answer", "error"),
        [
            (problem(404, "not-found"), NotFound),
            (problem(409, "already-exists"), AlreadyExists),
            (problem(422, "validation-error"), ValidationFailed),
            (httpx.Response(400, text="bad request"), ValidationFailed),
        ],
    )
    def test_client_errors(self, answer: httpx.Response, error: type[Exception]) -> None:
        server = Server(answer)
        with client_for(server) as client, pytest.raises(error):
            client.threads.create("default")
        assert len(server.requests) == 1
        assert server.sleeps == []

    def test_key_create_after_the_request_went_out(self) -> None:
        """No Idempotency-Key on key creation: a second attempt might make a second key."""
        server = Server(httpx.ReadTimeout)
        with client_for(server) as client, pytest.raises(TransportError) as caught:
            client.keys.create(role="admin")
        assert len(server.requests) == 1
        assert isinstance(caught.value.__cause__, httpx.ReadTimeout)

    def test_key_create_is_retried_when_never_sent(self) -> None:
        created_key = {
            "object": "api_key",
            "id": "k",
            "name": None,
            "role": "admin",
            "space_id": None,
            "prefix": "tl_abc",
            "created_at": "2026-01-01T00:00:00Z",
            "revoked_at": None,
            "key": "tl_abcdef",
        }
        server = Server(httpx.ConnectError, created(created_key))
        with client_for(server) as client:
            assert client.keys.create(role="admin").key == "tl_abcdef"
        assert len(server.requests) == 2

    @pytest.mark.parametrize(
        "change",
        [
            lambda client: client.rolethreads.add_role("t", ROLE),
            lambda client: client.rolethreads.remove_role("t", "assistant"),
        ],
        ids=["add_role", "remove_role"],
    )
    def test_role_change_after_the_request_went_out(
        self, change: Callable[[Client], object]
    ) -> None:
        """A second attempt would meet the first one's change: Conflict or NotFound."""
        server = Server(httpx.ReadTimeout)
        with client_for(server) as client, pytest.raises(TransportError) as caught:
            change(client)
        assert len(server.requests) == 1
        assert isinstance(caught.value.__cause__, httpx.ReadTimeout)

    def test_role_changes_are_retried_when_not_carried_out(self) -> None:
        server = Server(
            httpx.ConnectError,
            problem(503, "service-unavailable", retry_after="1"),
            httpx.Response(200, json=ROLE),
        )
        with client_for(server) as client:
            assert client.rolethreads.add_role("t", ROLE).user_name == "Ada"
            assert client.rolethreads.remove_role("t", "assistant").name == "assistant"
        assert len(server.requests) == 4
        add, remove = server.requests[2], server.requests[3]
        assert (add.method, add.url.path, add.url.query) == ("POST", "/v1/rolethreads/t/roles", b"")
        assert json.loads(add.content) == ROLE
        assert (remove.method, remove.url.path) == ("DELETE", "/v1/rolethreads/t/roles")
        assert remove.url.params["name"] == "assistant"
        assert remove.content == b""

    def test_ready_reports_now(self) -> None:
        server = Server(problem(503, "service-unavailable"))
        with client_for(server) as client, pytest.raises(ServiceUnavailable):
            client.ready()
        assert len(server.requests) == 1

    def test_max_retries_zero(self) -> None:
        server = Server(problem(503, "service-unavailable"), created())
        with client_for(server, max_retries=0) as client, pytest.raises(ServiceUnavailable):
            client.threads.create("default")
        assert len(server.requests) == 1
        assert server.sleeps == []

    def test_negative_max_retries_is_refused(self) -> None:
        with pytest.raises(ValueError, match="max_retries"):
            Client(URL, max_retries=-1)


class TestExhausted:
    def test_transport_error_chains_the_last_failure(self) -> None:
        server = Server(httpx.ConnectError)
        with client_for(server) as client, pytest.raises(TransportError) as caught:
            client.threads.list("default")
        assert len(server.requests) == 4
        assert len(server.sleeps) == 3
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        assert "4 attempts" in caught.value.detail
        assert "GET /v1/spaces/default/threads" in caught.value.detail

    @pytest.mark.parametrize(
        ("status", "slug", "error"),
        [(503, "service-unavailable", ServiceUnavailable), (429, "rate-limited", RateLimited)],
    )
    def test_last_answer_is_raised(
        self, status: int, slug: str, error: type[ThreadloomError]
    ) -> None:
        server = Server(problem(status, slug, retry_after="1"))
        with client_for(server) as client, pytest.raises(error) as caught:
            client.threads.create("default")
        assert len(server.requests) == 4
        assert server.sleeps == [1.0, 1.0, 1.0]
        assert len(set(server.header("idempotency-key"))) == 1
        assert caught.value.headers["retry-after"] == "1"

    @pytest.mark.anyio
    async def test_async_transport_error(self) -> None:
        server = Server(httpx.ConnectError)
        async with async_client_for(server, max_retries=2) as client:
            with pytest.raises(TransportError):
                await client.threads.list("default")
        assert len(server.requests) == 3
        assert len(server.sleeps) == 2


class TestRequests:
    def test_headers_of_every_request(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("THREADLOOM_API_KEY", "tl_from_env")
        server = Server(httpx.Response(200, json={"status": "ok"}))
        with Client(URL, transport=httpx.MockTransport(server), headers={"X-Trace": "1"}) as c:
            c.health()
        request = server.requests[0]
        assert request.headers["user-agent"] == f"threadloom-python/{__version__}"
        assert request.headers["authorization"] == "Bearer tl_from_env"
        assert request.headers["x-trace"] == "1"
        assert "idempotency-key" not in request.headers

    def test_base_url_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("THREADLOOM_URL", "http://from-env.test:9000/prefix")
        server = Server(httpx.Response(200, json={"status": "ok"}))
        with Client(transport=httpx.MockTransport(server)) as client:
            client.health()
        assert str(server.requests[0].url) == "http://from-env.test:9000/prefix/healthz"
        assert "authorization" not in server.requests[0].headers

    def test_default_base_url(self) -> None:
        assert Client().base_url == "http://127.0.0.1:8000"

    def test_each_create_has_its_own_key_unless_given(self) -> None:
        server = Server(created())
        with Client(URL, transport=httpx.MockTransport(server)) as client:
            client.threads.create("default")
            client.threads.create("default")
            client.threads.create("default", idempotency_key="mine")
        first, second, third = server.header("idempotency-key")
        assert first != second
        assert third == "mine"

    def test_state_patch_is_a_conditional_merge_patch(self) -> None:
        server = Server(httpx.Response(200, json=STATE))
        with Client(URL, transport=httpx.MockTransport(server)) as client:
            client.state.patch("default", "t", {"a": None}, if_match=3)
            client.state.put("default", "t", [1])
        patch, put = server.requests
        assert patch.method == "PATCH"
        assert patch.url.path == "/v1/spaces/default/threads/t/state"
        assert patch.headers["content-type"] == "application/merge-patch+json"
        assert patch.headers["if-match"] == '"3"'
        assert patch.content == b'{"a":null}'
        assert (put.content, put.headers["content-type"]) == (b'{"state":[1]}', "application/json")
        assert "if-match" not in put.headers

    def test_list_parameters(self) -> None:
        page = {"object": "list", "data": [], "has_more": False, "first_id": None, "last_id": None}
        server = Server(httpx.Response(200, json=page))
        with Client(URL, transport=httpx.MockTransport(server)) as client:
            client.threads.list(
                "my space", metadata={"tier": "gold", "vip": True}, limit=5, order="asc"
            )
            client.threads.purge("s", "a/b")
        listing, purge = server.requests
        assert listing.url.path == "/v1/spaces/my space/threads"
        assert listing.url.params.multi_items() == [
            ("order", "asc"),
            ("limit", "5"),
            ("metadata[tier]", "gold"),
            ("metadata[vip]", "true"),
        ]
        assert purge.url.raw_path == b"/v1/spaces/s/threads/a%2Fb?purge=true"

    def test_closing(self) -> None:
        client = Client(URL, transport=httpx.MockTransport(Server(created())))
        with client:
            pass
        with pytest.raises(RuntimeError):
            client.threads.create("default")
