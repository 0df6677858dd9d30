"""Slow clients hold no connection for long (server/protocol.py, server/middleware.py): over
real sockets against ``threadloom serve`` with small deadlines, a stalled request head or
body gets its connection closed (a body the server reads gets a 408 first), a thousand
stalled connections do not stop others being served, and malformed HTTP gets one short,
fixed 400."""

from __future__ import annotations

import functools
import json
import resource
import select
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from tests.fixtures.databases import make_settings
from tests.fixtures.servers import LiveServer, free_port, start_server, stop_server
from threadloom.server.app import create_app
from threadloom.server.protocol import TimedHttpToolsProtocol

pytestmark = pytest.mark.server

THREADS = "/v1/spaces/default/threads"
TIMEOUTS = ("--header-timeout", "1", "--body-timeout", "1")
# Generous: each wait below ends when the server closes the connection, long before this.
SOCKET_TIMEOUT = 20.0


def _connect(server: Served) -> socket.socket:
    parts = urlsplit(server.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=SOCKET_TIMEOUT)
    return sock


def _until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a socket timeout, which
    fails the test, if it never does)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _split(answer: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = {name.lower(): value.strip() for name, value in (h.split(":", 1) for h in lines)}
    return status, headers, body


def _drip(sock: socket.socket, data: bytes) -> tuple[bool, bytes]:
    """Sends ``data`` a byte at a time, a moment apart (each byte would restart a mere idle
    timer): whether the server closed the connection before the end, and what it sent.

    Once the server has answered, nothing more is sent: a byte sent after the server closed
    draws a reset, which may throw away an answer not yet read."""
    received = b""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return True, received
        readable, _, _ = select.select([sock], [], [], 0.25)
        if readable:
            try:
                chunk = sock.recv(65536)
                if chunk:
                    received += chunk
                    received += _until_closed(sock)
            except ConnectionResetError:
                pass  # closed, after what was received
            return True, received
    return False, received


def _drip_until_closed(sock: socket.socket, data: bytes) -> bool:
    closed, _ = _drip(sock, data)
    return closed


@dataclass
class InProcessServer:
    """uvicorn serving the app with threadloom serve's protocol, in a thread of the test's
    own process (so that coverage sees the protocol run)."""

    url: str


Served = LiveServer | InProcessServer


@contextmanager
def _in_process_server(database_url: str) -> Iterator[InProcessServer]:
    settings = make_settings(
        database_url=database_url,
        migrate_on_start=False,
        header_timeout_seconds=1.0,
        body_timeout_seconds=1.0,
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        http=functools.partial(  # type: ignore[arg-type]
            TimedHttpToolsProtocol, header_timeout=1.0, body_timeout=1.0
        ),
        ws="none",
        log_level="warning",
        lifespan="on",
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if uv.started:
                break
            time.sleep(0.05)
        assert uv.started, "the in-process server did not start"
        yield InProcessServer(f"http://127.0.0.1:{port}")
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module", params=["process", "in-process"])
def server(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer | InProcessServer]:
    """One server with 1 s deadlines for the tests that need no other: ``threadloom serve``
    itself, and its protocol in process."""
    directory = tmp_path_factory.mktemp("timeouts")
    shutil.copy(sqlite_template, directory / "threadloom.db")
    database_url = f"sqlite:///{directory / 'threadloom.db'}"
    if request.param == "in-process":
        with _in_process_server(database_url) as in_process:
            yield in_process
        return
    live = start_server(database_url, directory, *TIMEOUTS)
    try:
        yield live
    finally:
        stop_server(live)


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"", id="nothing"),
        pytest.param(b"GET /heal", id="half a request line"),
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: x\r\nAccept: */", id="half the headers"),
    ],
)
def test_a_stalled_request_head_is_closed_without_an_answer(server: Served, head: bytes) -> None:
    with _connect(server) as sock:
        sock.sendall(head)
        assert _until_closed(sock) == b""


def test_a_head_sent_a_byte_at_a_time_is_closed(server: Served) -> None:
    with _connect(server) as sock:
        assert _drip_until_closed(sock, b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"s" * 200)


def test_a_dripping_head_after_a_kept_alive_request_is_closed(server: Served) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert _drip_until_closed(sock, b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"s" * 200)


def test_a_stalled_body_the_server_reads_gets_a_408_and_is_closed(server: Served) -> None:
    with _connect(server) as sock:
        sock.sendall(
            f"POST {THREADS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            'Content-Length: 100\r\nX-Request-ID: req-slow-body\r\n\r\n{"id": '.encode()
        )
        status, headers, body = _split(_until_closed(sock))
    assert status == "HTTP/1.1 408 Request Timeout"
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert headers["x-request-id"] == "req-slow-body"
    assert json.loads(body)["type"].endswith("/request-timeout")
    with httpx.Client(base_url=server.url, timeout=SOCKET_TIMEOUT) as client:
        assert client.get(f"{THREADS}/1").status_code == 404  # nothing was written


def test_a_dripping_body_the_server_reads_gets_a_408_and_is_closed(server: Served) -> None:
    body = b'{"id": "dripped", "title": "' + b"t" * 200 + b'"}'
    with _connect(server) as sock:
        sock.sendall(
            f"POST {THREADS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        closed, answer = _drip(sock, body)
    assert closed
    status, _, problem = _split(answer)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert json.loads(problem)["status"] == 408


def test_a_dripping_body_the_server_does_not_read_is_closed(server: Served) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 300\r\n\r\nabc")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200 OK")  # answered without the body
        assert _drip_until_closed(sock, b"d" * 297)


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="no request line"),
        pytest.param(b"GET / HTTP/7.3\r\nHost: x\r\n\r\n", id="unknown version"),
        pytest.param(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n", id="bad header"),
        pytest.param(b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", id="control character"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            id="two lengths",
        ),
    ],
)
def test_malformed_http_gets_one_short_fixed_400(server: Served, request_bytes: bytes) -> None:
    with _connect(server) as sock:
        sock.sendall(request_bytes)
        status, headers, body = _split(_until_closed(sock))
    assert status == "HTTP/1.1 400 Bad Request"
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body) < 200
    assert json.loads(body) == {
        "type": "https://threadloom.dev/problems/bad-request",
        "title": "Bad request",
        "status": 400,
        "detail": "the request is not valid HTTP/1.1",
    }


STALLED = 1000


@pytest.fixture
def enough_descriptors() -> Iterator[None]:
    """Room for the stalled sockets in this process and in the server (which inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = STALLED + 500
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"the file descriptor limit ({hard}) is below {wanted}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("enough_descriptors")
def test_a_thousand_stalled_connections_do_not_stop_others_being_served(
    sqlite_url: str, live_servers: Callable[..., LiveServer]
) -> None:
    # A long header deadline, so that the stalled connections stay open meanwhile.
    server = live_servers(sqlite_url, "--header-timeout", "60")
    with ExitStack() as stack:
        stalled = [stack.enter_context(_connect(server)) for _ in range(STALLED)]
        for sock in stalled:
            sock.sendall(b"POST /v1/spaces/default/threads HTTP/1.1\r\nHost: x\r\n")
        with httpx.Client(base_url=server.url, timeout=SOCKET_TIMEOUT) as client:
            created = client.post(THREADS, json={"id": "served"})
            assert created.status_code == 201, created.text
            assert client.get(f"{THREADS}/served").status_code == 200
        # Still stalled, still open: the server has not answered any of them.
        stalled[0].setblocking(False)
        with pytest.raises(BlockingIOError):
            stalled[0].recv(1)
