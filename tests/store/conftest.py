"""The store contract runs on every backend: SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from tests.fixtures.databases import POSTGRES, REDIS, backend_url


@pytest.fixture(params=["sqlite", POSTGRES, REDIS])
def database_url(request: pytest.FixtureRequest) -> str:
    return backend_url(request)
