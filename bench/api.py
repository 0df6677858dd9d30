"""HTTP benchmark: threadloom against a bare FastAPI endpoint, on SQLite and PostgreSQL.

    ./scripts/bench                                   # SQLite and PostgreSQL
    ./scripts/bench --duration 10 --backends sqlite

PostgreSQL comes from THREADLOOM_BENCH_POSTGRES_URL (default: the local server); the script
creates a database of its own there and drops it at the end.

Each server runs as one uvicorn worker on loopback; `wrk` (one thread, 32 connections) drives
it from a second process. Scenarios: append a message (to one thread, and to threads picked
at random among 1,000), read the latest 50 messages of a thread of 1,000 and of 1,000,000
messages, list 20 threads, and replace the thread state.
Every number is printed as requests/s, p50 and p99 latency, and as a ratio to the bare
endpoint measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = 32
BIG_THREAD = 1_000_000
SMALL_THREAD = 1_000
THREADS_IN_SPACE = 1_000


@dataclass
class Result:
    scenario: str
    backend: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server at {url} exited early")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not start")


def start(args: list[str], env: dict[str, str], ready: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_ready(ready, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _ms(value: str, unit: str) -> float:
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return float(value) * scale


def run_wrk(
    url: str, duration: int, script: str | None, tmp: Path
) -> tuple[float, float, float, int]:
    args = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency"]
    if script is not None:
        path = tmp / f"wrk-{uuid.uuid4().hex}.lua"
        path.write_text(script)
        args += ["-s", str(path)]
    output = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", output)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    if p50 is None or p99 is None:
        raise SystemExit(f"could not read wrk's output:\n{output}")
    return rps, _ms(*p50.groups()), _ms(*p99.groups()), errors


def lua_body(method: str, body: str) -> str:
    escaped = body.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'wrk.method = "{method}"\n'
        f'wrk.body = "{escaped}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )


# Seeding: straight into the database, so a million messages take seconds, not hours. -------


def seed_sqlite(path: str) -> None:
    db = sqlite3.connect(path)
    now = "2026-01-01T00:00:00.000000Z"
    with db:
        for thread_id, count in (("small", SMALL_THREAD), ("big", BIG_THREAD)):
            pk = db.execute(
                "INSERT INTO threads (space_id, id, public, status, metadata, state_version,"
                " role_mapping, message_count, last_seq, created_at, updated_at)"
                " VALUES ('default', ?, 0, 'active', '{}', 0, '{}', ?, ?, ?, ?)",
                (thread_id, count, count, now, now),
            ).lastrowid
            db.executemany(
                "INSERT INTO messages (id, thread_pk, seq, role, content, images, private,"
                " metadata, created_at) VALUES (?, ?, ?, ?, ?, '[]', 0, '{}', ?)",
                (
                    (
                        f"msg_{thread_id}_{seq}",
                        pk,
                        seq,
                        "user" if seq % 2 else "assistant",
                        f"message number {seq} of a long conversation",
                        now,
                    )
                    for seq in range(1, count + 1)
                ),
            )
        db.executemany(
            "INSERT INTO threads (space_id, id, title, public, status, metadata, state_version,"
            " role_mapping, message_count, last_seq, created_at, updated_at)"
            " VALUES ('default', ?, ?, 0, 'active', '{}', 0, '{}', 0, 0, ?, ?)",
            ((f"t{i}", f"thread {i}", now, now) for i in range(THREADS_IN_SPACE)),
        )
    db.close()


async def seed_postgres(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for thread_id, count in (("small", SMALL_THREAD), ("big", BIG_THREAD)):
            pk = await conn.fetchval(
                "INSERT INTO threads (space_id, id, public, status, metadata, state_version,"
                " role_mapping, message_count, last_seq, created_at, updated_at)"
                " VALUES ('default', $1, false, 'active', '{}', 0, '{}', $2, $2, now(), now())"
                " RETURNING pk",
                thread_id,
                count,
            )
            await conn.execute(
                "INSERT INTO messages (id, thread_pk, seq, role, content, images, private,"
                " metadata, created_at)"
                " SELECT 'msg_' || $1 || '_' || s, $2, s,"
                " CASE WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END,"
                " 'message number ' || s || ' of a long conversation', '[]', false, '{}', now()"
                " FROM generate_series(1, $3::bigint) AS s",
                thread_id,
                pk,
                count,
            )
        await conn.execute(
            "INSERT INTO threads (space_id, id, title, public, status, metadata, state_version,"
            " role_mapping, message_count, last_seq, created_at, updated_at)"
            " SELECT 'default', 't' || i, 'thread ' || i, false, 'active', '{}', 0, '{}', 0, 0,"
            " now(), now() FROM generate_series(0, $1::int - 1) AS i",
            THREADS_IN_SPACE,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def scenarios() -> list[tuple[str, str, str | None]]:
    base = "/v1/spaces/default/threads"
    message = '{"role": "user", "content": "hello, this is a benchmark message"}'
    # Each request to one of the 1,000 threads of the space, picked at random.
    spread = (
        "request = function()\n"
        f'  local path = "{base}/t" .. math.random(0, {THREADS_IN_SPACE - 1}) .. "/messages"\n'
        "  return wrk.format(nil, path)\n"
        "end\n"
    )
    return [
        ("append", f"{base}/small/messages", lua_body("POST", message)),
        ("append (1,000 threads)", f"{base}/t0/messages", lua_body("POST", message) + spread),
        ("read latest 50 (1k thread)", f"{base}/small/messages?order=desc&limit=50", None),
        ("read latest 50 (1M thread)", f"{base}/big/messages?order=desc&limit=50", None),
        ("list 20 threads", f"{base}?limit=20", None),
        (
            "state update",
            f"{base}/t1/state",
            lua_body("PUT", '{"state": {"step": "checkout", "cart": [1, 2, 3]}}'),
        ),
    ]


def bench_backend(backend: str, database_url: str, duration: int, tmp: Path) -> list[Result]:
    python = sys.executable
    subprocess.run(
        [python, "-m", "threadloom", "migrate", "--database-url", database_url],
        check=True,
        capture_output=True,
    )
    if backend == "sqlite":
        seed_sqlite(database_url.removeprefix("sqlite:///"))
    else:
        asyncio.run(seed_postgres(database_url))
    port = free_port()
    server = start(
        [python, "-m", "threadloom", "serve", "--port", str(port), "--log-level", "warning"],
        {"THREADLOOM_DATABASE_URL": database_url},
        f"http://127.0.0.1:{port}/healthz",
    )
    results = []
    try:
        for name, path, script in scenarios():
            # A short warm-up, then the measured run.
            run_wrk(f"http://127.0.0.1:{port}{path}", 1, script, tmp)
            rps, p50, p99, errors = run_wrk(f"http://127.0.0.1:{port}{path}", duration, script, tmp)
            results.append(Result(name, backend, rps, p50, p99, errors))
    finally:
        stop(server)
    return results


def bench_bare(duration: int, tmp: Path) -> Result:
    port = free_port()
    server = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_app:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--app-dir",
            str(ROOT / "bench"),
        ],
        {},
        f"http://127.0.0.1:{port}/bare",
    )
    try:
        run_wrk(f"http://127.0.0.1:{port}/bare", 1, None, tmp)
        rps, p50, p99, errors = run_wrk(f"http://127.0.0.1:{port}/bare", duration, None, tmp)
    finally:
        stop(server)
    return Result("bare FastAPI endpoint", "-", rps, p50, p99, errors)


async def _admin(server_url: str, sql: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per scenario")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk (or your system's package)")
    backends = args.backends.split(",")
    pg_server = os.environ.get(
        "THREADLOOM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        # The yardstick is measured before and after the backends and averaged, so a
        # machine that speeds up or slows down during the run skews the ratios less.
        first = bench_bare(args.duration, tmp)
        results: list[Result] = []
        if "sqlite" in backends:
            results += bench_backend("sqlite", f"sqlite:///{tmp / 'bench.db'}", args.duration, tmp)
        if "postgres" in backends:
            name = f"threadloom_bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(pg_server, f'CREATE DATABASE "{name}"'))
            try:
                url = pg_server.rsplit("/", 1)[0] + "/" + name
                results += bench_backend("postgres", url, args.duration, tmp)
            finally:
                asyncio.run(_admin(pg_server, f'DROP DATABASE "{name}" WITH (FORCE)'))
        last = bench_bare(args.duration, tmp)
    bare = Result(
        "bare FastAPI endpoint",
        "-",
        (first.rps + last.rps) / 2,
        (first.p50_ms + last.p50_ms) / 2,
        (first.p99_ms + last.p99_ms) / 2,
        first.errors + last.errors,
    )
    results.insert(0, bare)
    print(f"bare endpoint: {first.rps:.0f} req/s before, {last.rps:.0f} req/s after")
    print(f"\n{CONNECTIONS} connections, 1 uvicorn worker, {args.duration} s per scenario\n")
    header = (
        f"| {'scenario':<28} | {'database':<8} | {'req/s':>8} | {'p50 ms':>7} |"
        f" {'p99 ms':>7} | {'vs bare':>7} | errors |"
    )
    print(header)
    print("|" + "|".join("-" * (len(part)) for part in header.split("|")[1:-1]) + "|")
    for r in results:
        print(
            f"| {r.scenario:<28} | {r.backend:<8} | {r.rps:>8.0f} | {r.p50_ms:>7.2f} |"
            f" {r.p99_ms:>7.2f} | {r.rps / bare.rps:>6.2f}x | {r.errors:>6} |"
        )


if __name__ == "__main__":
    main()
