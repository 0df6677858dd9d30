"""Request ids, metrics and logs: ``X-Request-ID`` on every response, ``GET /metrics`` by
route template, the store timed, and JSON log lines that carry the request id and no secret."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.app import services_of
from tests.fixtures.databases import make_settings
from tests.fixtures.servers import LiveServer
from threadloom.logs import JsonFormatter, RequestIdFilter, TextFormatter, request_id_var
from threadloom.server import metrics
from threadloom.server.app import create_app
from threadloom.server.observability import new_request_id
from threadloom.store.urls import backend_of

pytestmark = pytest.mark.anyio

THREADS = "/v1/spaces/default/threads"
THREAD = "/v1/spaces/{space_id}/threads/{thread_id}"
MESSAGES = "/v1/spaces/{space_id}/threads/{thread_id}/messages"
GENERATED_ID = re.compile(r"[0-9a-f]{16}")
BOGUS_KEY = "tl_" + "y" * 43

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(api: httpx.AsyncClient, **headers: str) -> tuple[str, Samples]:
    response = await api.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text, parse_metrics(response.text)


# X-Request-ID ----------------------------------------------------------------------------


class TestRequestId:
    async def test_a_new_id_for_each_request(self, api: httpx.AsyncClient) -> None:
        first = await api.get("/healthz")
        second = await api.get("/healthz")
        ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
        assert all(GENERATED_ID.fullmatch(i) for i in ids)
        assert ids[0] != ids[1]

    def test_generated_ids_do_not_repeat(self) -> None:
        ids = [new_request_id() for _ in range(20_000)]
        assert len(set(ids)) == len(ids)
        assert len({i[:8] for i in ids}) == 1  # one process, one random prefix

    @pytest.mark.parametrize("incoming", ["abc-123", "trace:1/2=3;x", "x" * 128])
    async def test_a_valid_incoming_id_is_echoed(
        self, api: httpx.AsyncClient, incoming: str
    ) -> None:
        response = await api.get("/healthz", headers={"X-Request-ID": incoming})
        assert response.status_code == 200
        assert response.headers["x-request-id"] == incoming

    @pytest.mark.parametrize(
        "incoming",
        [b"has space", b"x" * 129, b"caf\xc3\xa9", b"tab\there", b""],
        ids=["space", "too-long", "non-ascii", "control", "empty"],
    )
    async def test_an_invalid_incoming_id_is_replaced(
        self, api: httpx.AsyncClient, incoming: bytes
    ) -> None:
        response = await api.get("/healthz", headers={b"X-Request-ID": incoming})
        assert response.status_code == 200
        assert GENERATED_ID.fullmatch(response.headers["x-request-id"])

    @pytest.mark.parametrize(
        ("method", "path", "body", "status"),
        [
            ("GET", "/no-such-route", None, 404),
            ("GET", f"{THREADS}/missing", None, 404),
            ("POST", THREADS, b'{"title": 5', 422),
            ("DELETE", "/healthz", None, 405),
            ("POST", THREADS, b"x" * (2 * 1024 * 1024), 413),
        ],
        ids=["unmatched", "not-found", "invalid", "method", "too-large"],
    )
    async def test_problem_responses_carry_it(
        self, api: httpx.AsyncClient, method: str, path: str, body: bytes | None, status: int
    ) -> None:
        headers = {"X-Request-ID": "req-problem-1", "Content-Type": "application/json"}
        response = await api.request(method, path, content=body, headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["x-request-id"] == "req-problem-1"
        generated = await api.request(method, path, content=body)
        assert GENERATED_ID.fullmatch(generated.headers["x-request-id"])

    async def test_an_unexpected_500_carries_it(
        self, app: FastAPI, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert (await api.post(THREADS, json={"id": "t1"})).status_code == 201

        async def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(services_of(app).store, "get_thread", broken)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            response = await client.get(f"{THREADS}/t1", headers={"X-Request-ID": "req-500"})
            generated = await client.get(f"{THREADS}/t1")
        assert response.status_code == 500
        assert response.headers["x-request-id"] == "req-500"
        assert GENERATED_ID.fullmatch(generated.headers["x-request-id"])


# GET /metrics ------------------------------------------------------------------------------


class TestMetrics:
    async def test_requests_are_counted_by_route_template_and_status(
        self, api: httpx.AsyncClient, database_url: str
    ) -> None:
        _, before = await scrape(api)
        assert (await api.post(THREADS, json={"id": "counted-thread"})).status_code == 201
        for text in ("one", "two"):
            appended = await api.post(f"{THREADS}/counted-thread/messages", json={"content": text})
            assert appended.status_code == 201
        assert (await api.get(f"{THREADS}/absent-thread")).status_code == 404
        for _ in range(2):
            assert (await api.get("/raw-path-never-a-label")).status_code == 404
        assert (await api.request("BREW", "/healthz")).status_code == 405
        text, after = await scrape(api)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        requests = "threadloom_http_requests_total"
        assert delta(requests, method="POST", route="/v1/spaces/{space_id}/threads", status="201")
        assert delta(requests, method="POST", route=MESSAGES, status="201") == 2
        assert delta(requests, method="GET", route=THREAD, status="404") == 1
        assert delta(requests, method="GET", route="<unmatched>", status="404") == 2
        assert delta(requests, method="OTHER", route="/healthz", status="405") == 1
        for raw in ("counted-thread", "absent-thread", "raw-path-never-a-label", "BREW"):
            assert raw not in text

        bucket = "threadloom_http_request_duration_seconds_bucket"
        assert delta(bucket, method="POST", route=MESSAGES, le="+Inf") == 2
        assert delta(bucket, method="POST", route=MESSAGES, le="10.0") == 2
        assert re.search(
            r'^threadloom_http_request_duration_seconds_bucket\{.*le="0\.005".*\} \d',
            text,
            re.MULTILINE,
        )
        assert delta(
            "threadloom_http_request_duration_seconds_count", method="POST", route=MESSAGES
        )

        backend = backend_of(database_url)
        store_count = "threadloom_store_operation_duration_seconds_count"
        assert delta(store_count, backend=backend, operation="append_messages") == 2
        assert delta(store_count, backend=backend, operation="create_thread") == 1
        assert delta(store_count, backend=backend, operation="get_thread") >= 1
        assert f'threadloom_store_operation_duration_seconds_bucket{{backend="{backend}"' in text

    async def test_streams_and_llm_tokens(self, api: httpx.AsyncClient) -> None:
        _, before = await scrape(api)
        metrics.stream_opened()
        metrics.stream_opened()
        metrics.stream_closed()
        metrics.record_llm_usage("offline", "echo-1", 12, 3)
        metrics.record_llm_usage("offline", "echo-1", None, 4)
        try:
            _, after = await scrape(api)
        finally:
            metrics.stream_closed()
        streams = "threadloom_event_streams_open"
        assert value(after, streams) - value(before, streams) == 1
        tokens = "threadloom_llm_tokens_total"
        labels = {"provider": "offline", "model": "echo-1"}
        prompt = value(after, tokens, kind="prompt", **labels)
        completion = value(after, tokens, kind="completion", **labels)
        assert prompt - value(before, tokens, kind="prompt", **labels) == 12
        assert completion - value(before, tokens, kind="completion", **labels) == 7

    async def test_the_store_keeps_its_name_and_attributes(
        self, app: FastAPI, database_url: str
    ) -> None:
        store = services_of(app).store
        assert type(store).__name__ == "TimedStore"
        assert store.backend == backend_of(database_url)
        assert store.backend in ("sqlite", "postgres", "redis")
        await store.ping()

    def test_several_processes_add_up_in_multiprocess_mode(self, tmp_path: Path) -> None:
        directory = tmp_path / "prometheus"
        directory.mkdir()
        (directory / "counter_999999.db").write_bytes(b"stale")
        (directory / "keep-me.txt").write_text("not ours")
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
        clear = "from threadloom.server import metrics; metrics.clear_multiprocess_dir()"
        record = (
            "from threadloom.server import metrics\n"
            "metrics.record_llm_usage('offline', 'echo-1', 5, 1)\n"
            "metrics.observe_request('GET', '/healthz', 200, 0.001)\n"
            "metrics.stream_opened()\n"
            "if __import__('sys').argv[1] == 'render':\n"
            "    print(metrics.render()[0].decode())\n"
            "else:\n"
            "    metrics.process_stopped()\n"
        )
        for args in ([clear], [record, "write"], [record, "render"]):
            done = subprocess.run(
                [sys.executable, "-c", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        assert (directory / "keep-me.txt").exists()
        assert not (directory / "counter_999999.db").exists()
        samples = parse_metrics(done.stdout)
        tokens = "threadloom_llm_tokens_total"
        labels = {"provider": "offline", "model": "echo-1"}
        assert value(samples, tokens, kind="prompt", **labels) == 10
        requests = "threadloom_http_requests_total"
        assert value(samples, requests, method="GET", route="/healthz", status="200") == 2
        # The stream of the process that stopped is no longer counted.
        assert value(samples, "threadloom_event_streams_open") == 1


@pytest.fixture
async def open_metrics_app(database_url: str) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        database_url=database_url,
        migrate_on_start=False,
        metrics_public=True,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


class TestMetricsAccess:
    async def test_needs_an_admin_key_once_keys_exist(
        self, app: FastAPI, api: httpx.AsyncClient
    ) -> None:
        assert (await api.get("/metrics")).status_code == 200  # no key yet, on loopback
        keys = services_of(app).keys
        admin, _ = await keys.create("admin", None, "ops")
        writer, _ = await keys.create("writer", "default", "app")
        refused = await api.get("/metrics")
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert (await api.get("/metrics", headers={"X-API-Key": writer})).status_code == 403
        await scrape(api, **{"X-API-Key": admin})
        await scrape(api, Authorization=f"Bearer {admin}")

    async def test_metrics_public_opens_it(self, open_metrics_app: FastAPI) -> None:
        await services_of(open_metrics_app).keys.create("admin", None, "ops")
        transport = httpx.ASGITransport(app=open_metrics_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as api:
            assert (await api.get("/v1/spaces")).status_code == 401
            text, _ = await scrape(api)
        assert "threadloom_http_requests_total" in text

    async def test_metrics_can_be_turned_off(self, database_url: str) -> None:
        settings = make_settings(
            database_url=database_url,
            migrate_on_start=False,
            metrics_enabled=False,
        )
        application = create_app(settings)
        async with application.router.lifespan_context(application):
            assert type(services_of(application).store).__name__ != "TimedStore"
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as api:
                response = await api.get("/metrics")
        assert response.status_code == 404
        assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


# Logs --------------------------------------------------------------------------------------


async def test_one_access_record_per_request_with_the_route_template(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await api.post(THREADS, json={"id": "logged"})).status_code == 201
    caplog.set_level(logging.INFO, logger="threadloom.access")
    caplog.clear()
    headers = {"X-Request-ID": "req-log-1", "X-API-Key": "tl_" + "s" * 43}
    await api.get(f"{THREADS}/logged/messages?after=secret-cursor", headers=headers)
    records = [r for r in caplog.records if r.name == "threadloom.access"]
    assert len(records) == 1
    record = records[0]
    assert record.__dict__["method"] == "GET"
    assert record.__dict__["path"] == MESSAGES
    assert record.__dict__["status"] in (200, 401)
    assert record.__dict__["duration_ms"] >= 0
    assert "secret-cursor" not in record.getMessage()
    assert "s" * 43 not in record.getMessage()


def _format(formatter: logging.Formatter, request_id: str | None, **extra: Any) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("threadloom.test-format")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id_var.set(request_id)
    try:
        logger.warning("hello %s", "world", extra=extra)
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_and_text_formats() -> None:
    line = _format(JsonFormatter(), "req-7", method="GET", path="/healthz", status=200)
    entry = json.loads(line)
    assert entry["message"] == "hello world"
    assert entry["level"] == "warning"
    assert entry["logger"] == "threadloom.test-format"
    assert entry["request_id"] == "req-7"
    assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/healthz", 200)
    assert entry["time"].endswith("Z")
    assert json.loads(_format(JsonFormatter(), None))["request_id"] is None
    text = _format(TextFormatter(), "req-8")
    assert "[req-8] hello world" in text
    assert text.count("\n") == 1
    assert "[-] hello world" in _format(TextFormatter(), None)


@pytest.mark.server
def test_a_live_server_logs_json_with_request_ids_and_no_key(
    sqlite_url: str, live_servers: Callable[..., LiveServer]
) -> None:
    from tests.test_live_server import _create_admin_key

    key = _create_admin_key(sqlite_url)
    server = live_servers(sqlite_url, env={"THREADLOOM_LOG_FORMAT": "json"})
    with httpx.Client(base_url=server.url, timeout=30) as client:
        created = client.post(
            "/v1/spaces/default/threads",
            json={"id": "json-logs"},
            headers={"X-API-Key": key, "X-Request-ID": "req-json-1"},
        )
        assert created.status_code == 201, created.text
        listed = client.get(
            "/v1/spaces/default/threads/json-logs/messages",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert listed.status_code == 200
        refused = client.get("/v1/spaces", headers={"X-API-Key": BOGUS_KEY})
        assert refused.status_code == 401
        scraped = client.get("/metrics", headers={"X-API-Key": key})
        assert scraped.status_code == 200
    wanted = {"req-json-1", listed.headers["x-request-id"], refused.headers["x-request-id"]}

    deadline = time.monotonic() + 10
    while True:
        entries = [json.loads(line) for line in server.log().splitlines() if line.strip()]
        access = [e for e in entries if e["logger"] == "threadloom.access"]
        if wanted <= {e["request_id"] for e in access} or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    log = server.log()
    assert key not in log
    assert BOGUS_KEY not in log
    for entry in entries:
        assert {"time", "level", "logger", "message", "request_id"} <= entry.keys()
    assert any("Application startup complete" in e["message"] for e in entries)
    by_id = {e["request_id"]: e for e in access}
    assert wanted <= by_id.keys()
    first = by_id["req-json-1"]
    assert first["method"] == "POST"
    assert first["path"] == "/v1/spaces/{space_id}/threads"
    assert first["status"] == 201
    assert first["duration_ms"] >= 0
    assert by_id[listed.headers["x-request-id"]]["path"] == MESSAGES
    assert by_id[refused.headers["x-request-id"]]["status"] == 401
    # One access line per request: uvicorn's own access log is off.
    assert len(access) == len({e["request_id"] for e in access})
    assert not any(e["logger"] == "uvicorn.access" for e in entries)
