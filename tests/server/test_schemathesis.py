"""The whole OpenAPI document, fuzzed in process by schemathesis on SQLite and PostgreSQL.

Every operation gets generated requests (a fixed seed, a bounded number per operation) with
an admin key, each sent again with the ids of a seeded thread in place of the generated
ones (which hardly ever exist); each response must not be a 5xx, must have a status the
document declares for the operation and a body that conforms to the declared schema.

The two live event streams are left out: they never end by themselves, and what they carry
is checked, bounded, by ``test_privacy.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.databases import POSTGRES, empty_postgres_database, make_settings
from threadloom.config import Settings
from threadloom.models import MessageCreate, ThreadCreate
from threadloom.server.app import create_app
from threadloom.store import create_store
from threadloom.store.migrate import migrate

ENDLESS = r"/events$"
EXAMPLES = 60
REAL_IDS = {"space_id": "default", "thread_id": "t1", "session_id": "t1"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# An operation of the document (schemathesis leaves its parameters open) and a case of one.
Operation = schemathesis.APIOperation[Any, Any, Any, Any]
FuzzCase = schemathesis.Case[Operation]


@pytest.fixture(scope="module", params=["sqlite", POSTGRES])
def fuzzed_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated database of its own for the whole module (the app serves it throughout)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.db'}"
        migrate(url)
        yield url
        return
    with empty_postgres_database("threadloom_fuzz") as url:
        migrate(url)
        yield url


async def _seed(settings: Settings) -> str:
    """A thread with messages and an assistant; returns an admin key."""
    from threadloom.core.auth import KeyService

    store = create_store(settings)
    await store.open()
    try:
        keys = KeyService(store, cache_seconds=0, open_when_keyless=False)
        key, _ = await keys.create("admin", None, "fuzz")
        await store.create_thread(
            "default",
            "t1",
            ThreadCreate(title="fuzz", metadata={"k": "v"}),
            [
                MessageCreate(role="user", content="hi"),
                MessageCreate(role="assistant", content="ok"),
            ],
        )
        return key
    finally:
        await store.close()


@pytest.fixture(scope="module")
def admin_key_and_schema(fuzzed_database: str) -> Iterator[tuple[str, Any]]:
    settings = make_settings(database_url=fuzzed_database, migrate_on_start=False)
    key = asyncio.run(_seed(settings))
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"X-API-Key": key})
    try:
        yield key, schema.exclude(path_regex=ENDLESS)
    finally:
        schemathesis_asgi.shutdown_lifespans()


def _destroys(case: FuzzCase) -> bool:
    """Deletes or purges: never sent to the seeded thread, which the rest must find."""
    return case.method.upper() == "DELETE" or case.path.endswith("/purge")


def _fuzz(operation: Operation, key: str) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy())
    def run(case: FuzzCase) -> None:
        case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)
        # Generated ids are almost never real: the same request again on the seeded ones.
        real = {k: v for k, v in REAL_IDS.items() if k in (case.path_parameters or {})}
        if real and not _destroys(case):
            case.path_parameters = {**case.path_parameters, **real}
            case.call_and_validate(headers={"X-API-Key": key}, checks=CHECKS)

    run()


def test_the_api_keeps_its_openapi_document(admin_key_and_schema: tuple[str, Any]) -> None:
    """Every operation is fuzzed, and every one that fails is named (with its first
    failure), not only the first."""
    key, schema = admin_key_and_schema
    failures: dict[str, str] = {}
    fuzzed = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        fuzzed += 1
        try:
            _fuzz(operation, key)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups its failures
            failures[operation.label] = _summary(exc)
    assert fuzzed > 40
    assert failures == {}


def _summary(exc: BaseException) -> str:
    text = str(exc).strip()
    return text[:1500]


def test_streams_are_documented_as_event_streams(admin_key_and_schema: tuple[str, Any]) -> None:
    document = admin_key_and_schema[1].raw_schema
    for path, method in (
        ("/v1/spaces/{space_id}/threads/{thread_id}/events", "get"),
        ("/v1/spaces/{space_id}/events", "get"),
        ("/v1/spaces/{space_id}/threads/{thread_id}/chat", "post"),
    ):
        content = document["paths"][path][method]["responses"]["200"]["content"]
        assert list(content) == ["text/event-stream"], (path, content)
