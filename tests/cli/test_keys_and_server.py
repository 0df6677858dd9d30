"""``threadloom migrate``, ``serve`` and ``keys``, in process and as real processes."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Cli
from tests.fixtures.servers import LiveServer, free_port

KEY_PATTERN = re.compile(r"tl_[A-Za-z0-9_-]{43}")
KEY_ID_PATTERN = re.compile(r"key_[0-9a-z]+")
TABLES = {"spaces", "threads", "messages", "state_versions", "api_keys", "idempotency_keys"}


def _tables(sqlite_file: Path) -> set[str]:
    with sqlite3.connect(sqlite_file) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    conn.close()
    return {row[0] for row in rows}


def _create_key(cli: Cli, database_url: str, *args: str) -> tuple[str, str]:
    """Runs ``keys create ARGS``; returns (secret, key id)."""
    done = cli("keys", "create", *args, "--database-url", database_url)
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    assert KEY_PATTERN.fullmatch(lines[-1]), done.stdout
    key_id = KEY_ID_PATTERN.search(done.stderr)
    assert key_id is not None, done.stderr
    return lines[-1], key_id.group(0)


def _key_rows(output: str) -> dict[str, list[str]]:
    """The rows of the ``keys list`` table by key id: [id, prefix, role, space, name,
    created, revoked]."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells and cells[0].startswith("key_"):
            rows[cells[0]] = cells
    return rows


# migrate ----------------------------------------------------------------------------------


def test_migrate_creates_the_schema_on_a_fresh_sqlite_path(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "threadloom.db"
    url = f"sqlite:///{path}"
    done = cli("migrate", "--database-url", url)
    assert done.code == 0, done.stderr
    assert "up to date" in done.stdout
    assert TABLES <= _tables(path)

    listed = cli("keys", "list", "--database-url", url)
    assert listed.code == 0, listed.stderr
    assert "prefix" in listed.stdout
    assert _key_rows(listed.stdout) == {}


def test_migrate_reads_the_database_url_from_the_environment(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "from-env.db"
    done = cli("migrate", database_url=f"sqlite:///{path}")
    assert done.code == 0, done.stderr
    assert TABLES <= _tables(path)
    again = cli("migrate", database_url=f"sqlite:///{path}")
    assert again.code == 0, again.stderr


def test_the_option_wins_over_the_environment(cli: Cli, tmp_path: Path) -> None:
    from_env = tmp_path / "env.db"
    from_option = tmp_path / "option.db"
    done = cli(
        "migrate",
        "--database-url",
        f"sqlite:///{from_option}",
        database_url=f"sqlite:///{from_env}",
    )
    assert done.code == 0, done.stderr
    assert from_option.exists()
    assert not from_env.exists()


def test_migrate_postgres(cli: Cli, database_url: str) -> None:
    done = cli("migrate", "--database-url", database_url)
    assert done.code == 0, done.stderr
    assert "up to date" in done.stdout


def test_unreachable_postgres_is_one_clean_error(cli: Cli) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    done = cli("migrate", "--database-url", url)
    assert done.code == 1
    assert done.clean_failure, done.stderr
    assert done.stderr.startswith("error:")


def test_an_unsupported_url_scheme_is_a_clean_error(cli: Cli) -> None:
    done = cli("migrate", "--database-url", "mysql://localhost/threadloom")
    assert done.code == 1
    assert done.clean_failure, done.stderr
    assert done.stderr.startswith("error:")
    assert "unsupported database URL scheme" in " ".join(done.stderr.split())


@pytest.mark.parametrize("what", ["not-a-database", "directory"])
def test_a_bad_sqlite_file_is_a_clean_error(cli: Cli, tmp_path: Path, what: str) -> None:
    if what == "directory":
        target = tmp_path / "a-directory"
        target.mkdir()
    else:
        target = tmp_path / "notes.txt"
        target.write_text("these are my notes, not a database\n" * 20)
    done = cli("migrate", "--database-url", f"sqlite:///{target}")
    assert done.code == 1
    assert done.clean_failure, done.stderr
    assert done.stderr.startswith("error:")


# keys create ------------------------------------------------------------------------------


def test_keys_create_admin_prints_the_key_alone_on_the_last_line(
    cli: Cli, database_url: str
) -> None:
    done = cli("keys", "create", "--admin", "--database-url", database_url)
    assert done.code == 0, done.stderr
    assert done.stdout.endswith("\n")
    last = done.stdout.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(last)
    assert done.stdout.splitlines() == [last]  # nothing else on stdout
    assert "admin" in done.stderr
    assert last not in done.stderr
    assert KEY_ID_PATTERN.search(done.stderr)


def test_keys_create_through_the_environment_variable(cli: Cli, database_url: str) -> None:
    created = cli("keys", "create", "--admin", "--name", "via-env", database_url=database_url)
    assert created.code == 0, created.stderr
    secret = created.stdout.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(secret)
    listed = cli("keys", "list", "--database-url", database_url)
    assert listed.code == 0, listed.stderr
    rows = list(_key_rows(listed.stdout).values())
    assert len(rows) == 1
    assert rows[0][2] == "admin"
    assert rows[0][4] == "via-env"


def test_keys_create_reader_key(cli: Cli, database_url: str) -> None:
    done = cli(
        "keys", "create", "--space", "default", "--role", "reader", "--database-url", database_url
    )
    assert done.code == 0, done.stderr
    assert KEY_PATTERN.fullmatch(done.stdout.splitlines()[-1])
    assert "reader" in done.stderr
    listed = cli("keys", "list", "--database-url", database_url)
    (row,) = _key_rows(listed.stdout).values()
    assert row[2:4] == ["reader", "default"]


def test_keys_create_in_a_missing_space_is_one_error_line(cli: Cli, database_url: str) -> None:
    done = cli("keys", "create", "--space", "missing", "--database-url", database_url)
    assert done.code == 1
    assert done.clean_failure, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:")
    assert "'missing'" in lines[0]
    assert "does not exist" in lines[0]
    assert _key_rows(cli("keys", "list", "--database-url", database_url).stdout) == {}


@pytest.mark.parametrize("role", ["bogus", "admin", ""])
def test_keys_create_with_a_bad_role_fails(cli: Cli, sqlite_url: str, role: str) -> None:
    done = cli("keys", "create", "--space", "default", "--role", role, "--database-url", sqlite_url)
    assert done.code != 0
    assert done.clean_failure, done.stderr
    assert not KEY_PATTERN.search(done.stdout)
    assert "--role" in done.stderr
    assert _key_rows(cli("keys", "list", "--database-url", sqlite_url).stdout) == {}


def test_keys_create_without_space_or_admin_fails(cli: Cli, sqlite_url: str) -> None:
    done = cli("keys", "create", "--database-url", sqlite_url)
    assert done.code == 1
    assert done.clean_failure, done.stderr
    assert "space" in done.stderr
    assert not KEY_PATTERN.search(done.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create", "--space", "a-space-with-a-rather-long-name-that-does-not-exist-yet"),
        ("migrate", "--database-url", "mysql://localhost/threadloom"),
        ("serve", "--host", "0.0.0.0", "--port", "0"),
    ],
    ids=["missing-space", "bad-scheme", "serve-refused"],
)
def test_long_errors_stay_on_one_line(
    subprocess_cli: Cli, sqlite_url: str, args: tuple[str, ...]
) -> None:
    done = subprocess_cli(*args, database_url=sqlite_url, columns=None)
    assert done.code == 1
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# serve --insecure ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "args"),
    [("false", ()), ("0", ()), ("true", ("--no-insecure",))],
    ids=["false", "zero", "option-wins"],
)
def test_serve_refuses_a_keyless_public_address_unless_insecure(
    subprocess_cli: Cli, sqlite_url: str, value: str, args: tuple[str, ...]
) -> None:
    done = subprocess_cli(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        str(free_port()),
        *args,
        database_url=sqlite_url,
        env={"THREADLOOM_INSECURE": value},
    )
    assert done.code == 1, done.stderr
    assert done.clean_failure, done.stderr
    assert "refusing to serve 0.0.0.0 with no API key" in done.stderr


def test_serve_rejects_an_insecure_value_that_is_not_a_boolean(
    subprocess_cli: Cli, sqlite_url: str
) -> None:
    done = subprocess_cli(
        "serve",
        "--host",
        "0.0.0.0",
        database_url=sqlite_url,
        env={"THREADLOOM_INSECURE": "maybe"},
        columns=None,
    )
    assert done.code == 2, done.stderr
    assert done.clean_failure, done.stderr
    assert "--insecure" in done.stderr
    assert "THREADLOOM_INSECURE" in done.stderr
    assert "boolean" in done.stderr


@pytest.mark.server
@pytest.mark.parametrize("value", ["true", "1", "yes"])
def test_serve_takes_insecure_from_the_environment(
    sqlite_url: str, live_servers: Callable[..., LiveServer], value: str
) -> None:
    """THREADLOOM_INSECURE works like --insecure: a keyless server on a non-loopback
    address starts, and its worker processes serve without keys too."""
    server = live_servers(sqlite_url, "--host", "0.0.0.0", env={"THREADLOOM_INSECURE": value})
    listed = httpx.get(server.url + "/v1/spaces/default/threads", timeout=30)
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == []


def test_keys_create_admin_with_a_space_is_refused(cli: Cli, sqlite_url: str) -> None:
    done = cli("keys", "create", "--admin", "--space", "default", "--database-url", sqlite_url)
    assert done.code == 1
    assert done.clean_failure, done.stderr
    assert not KEY_PATTERN.search(done.stdout)


# keys list and revoke ---------------------------------------------------------------------


def test_keys_list_shows_id_and_prefix_never_the_secret(cli: Cli, database_url: str) -> None:
    admin, admin_id = _create_key(cli, database_url, "--admin", "--name", "ops")
    writer, writer_id = _create_key(cli, database_url, "--space", "default")
    listed = cli("keys", "list", "--database-url", database_url)
    assert listed.code == 0, listed.stderr
    rows = _key_rows(listed.stdout)
    assert set(rows) == {admin_id, writer_id}
    assert rows[admin_id][1] == admin[:10] + "…"
    assert rows[admin_id][2:5] == ["admin", "*", "ops"]
    assert rows[writer_id][1] == writer[:10] + "…"
    assert rows[writer_id][2:4] == ["writer", "default"]
    assert rows[admin_id][6] == rows[writer_id][6] == ""
    for secret in (admin, writer):
        assert secret not in listed.stdout
        assert secret not in listed.stderr
        assert secret[:16] not in listed.stdout


def test_keys_list_shows_whole_ids_when_piped(subprocess_cli: Cli, sqlite_url: str) -> None:
    _, key_id = _create_key(subprocess_cli, sqlite_url, "--admin")
    listed = subprocess_cli("keys", "list", "--database-url", sqlite_url, columns=None)
    assert listed.code == 0, listed.stderr
    assert key_id in listed.stdout


def test_keys_list_json(cli: Cli, sqlite_url: str) -> None:
    admin, admin_id = _create_key(cli, sqlite_url, "--admin", "--name", "ops")
    listed = cli("keys", "list", "--json", "--database-url", sqlite_url)
    assert listed.code == 0, listed.stderr
    (key,) = json.loads(listed.stdout)
    assert key["id"] == admin_id
    assert (key["role"], key["space_id"], key["name"], key["revoked_at"]) == (
        "admin",
        None,
        "ops",
        None,
    )
    assert key["prefix"] == admin[:10]
    assert admin not in listed.stdout
    assert "key_hash" not in key


def test_keys_create_json_has_the_secret(cli: Cli, sqlite_url: str) -> None:
    done = cli("keys", "create", "--space", "default", "--json", "--database-url", sqlite_url)
    assert done.code == 0, done.stderr
    created = json.loads(done.stdout)
    assert KEY_PATTERN.fullmatch(created["key"])
    assert (created["role"], created["space_id"]) == ("writer", "default")


def test_keys_revoke(cli: Cli, database_url: str) -> None:
    _, keep_id = _create_key(cli, database_url, "--admin")
    _, revoke_id = _create_key(cli, database_url, "--space", "default", "--role", "reader")

    done = cli("keys", "revoke", revoke_id, "--database-url", database_url)
    assert done.code == 0, done.stderr
    assert revoke_id in done.stdout

    rows = _key_rows(cli("keys", "list", "--database-url", database_url).stdout)
    assert re.match(r"\d{4}-\d\d-\d\dT", rows[revoke_id][6]), rows[revoke_id]
    assert rows[keep_id][6] == ""

    again = cli("keys", "revoke", revoke_id, "--database-url", database_url)
    assert again.code == 1
    assert again.clean_failure, again.stderr


def test_keys_revoke_unknown_id_is_one_clean_error(cli: Cli, database_url: str) -> None:
    done = cli("keys", "revoke", "key_doesnotexist", "--database-url", database_url)
    assert done.code == 1
    assert done.clean_failure, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:")
    assert "key_doesnotexist" in lines[0]


# help -------------------------------------------------------------------------------------


def test_help(cli: Cli) -> None:
    done = cli("--help")
    assert done.code == 0, done.stderr
    for command in ("serve", "migrate", "keys"):
        assert command in done.stdout
    keys = cli("keys", "--help")
    assert keys.code == 0, keys.stderr
    for command in ("create", "list", "revoke"):
        assert command in keys.stdout
    create = cli("keys", "create", "--help")
    assert create.code == 0
    for option in ("--admin", "--space", "--role", "--database-url"):
        assert option in create.stdout


def test_no_arguments_shows_help(cli: Cli) -> None:
    done = cli()
    assert "migrate" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def test_an_unknown_command_fails_cleanly(cli: Cli) -> None:
    done = cli("frobnicate")
    assert done.code == 2
    assert done.clean_failure


# the keys against a live server -----------------------------------------------------------


@pytest.mark.server
def test_created_keys_work_against_a_live_server(
    subprocess_cli: Cli, database_url: str, live_servers: Callable[..., LiveServer]
) -> None:
    cli = subprocess_cli
    admin, admin_id = _create_key(cli, database_url, "--admin")
    reader, reader_id = _create_key(cli, database_url, "--space", "default", "--role", "reader")
    writer, _ = _create_key(cli, database_url, "--space", "default")
    server = live_servers(database_url, env={"THREADLOOM_KEY_CACHE_SECONDS": "0"})
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/v1/keys").status_code == 401

        keys = client.get("/v1/keys", headers={"X-API-Key": admin})
        assert keys.status_code == 200, keys.text
        assert admin_id in {key["id"] for key in keys.json()}
        assert all("key" not in key for key in keys.json())

        as_writer = {"Authorization": f"Bearer {writer}"}
        created = client.post("/v1/spaces/default/threads", json={"title": "t"}, headers=as_writer)
        assert created.status_code == 201, created.text
        thread_id = created.json()["id"]

        as_reader = {"X-API-Key": reader}
        listed = client.get("/v1/spaces/default/threads", headers=as_reader)
        assert listed.status_code == 200
        assert [t["id"] for t in listed.json()["data"]] == [thread_id]
        refused = client.post("/v1/spaces/default/threads", json={}, headers=as_reader)
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/keys", headers=as_reader).status_code == 403

        # Revoked from the command line while the server runs: refused from then on.
        revoked = cli("keys", "revoke", reader_id, "--database-url", database_url)
        assert revoked.code == 0, revoked.stderr
        gone = client.get("/v1/spaces/default/threads", headers=as_reader)
        assert gone.status_code == 401
        assert gone.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/keys", headers={"X-API-Key": admin}).status_code == 200
