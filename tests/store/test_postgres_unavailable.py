"""PostgreSQL only: an unreachable server is a ServiceUnavailable that leaks no secret.

Needs no running server: it connects to a closed port on loopback.
"""

from __future__ import annotations

import socket

import pytest

from threadloom.errors import ServiceUnavailable
from threadloom.store.postgres import PostgresStore

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server_is_service_unavailable() -> None:
    store = PostgresStore(
        f"postgresql://threadloom:s3cr3t-pw@127.0.0.1:{_closed_port()}/threadloom", pool_size=2
    )
    with pytest.raises(ServiceUnavailable) as caught:
        await store.open()
    message = str(caught.value)
    assert "PostgreSQL" in message
    assert "s3cr3t-pw" not in message
    assert "postgresql://" not in message
    assert "s3cr3t-pw" not in repr(store)
    with pytest.raises(ServiceUnavailable):
        await store.ping()
    await store.close()
