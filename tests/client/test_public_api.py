"""The public API of ``import threadloom``: what it exports, and that it stays light."""

from __future__ import annotations

import inspect

import pytest

import threadloom
import threadloom.client
import threadloom.errors
import threadloom.models
import threadloom.threadmem
from tests.test_import_weight import SERVER_MODULES, _modules_after_import

# Beyond the server's modules: the server's settings and the CLI. (Not rich: httpx imports it
# for its own command line when it is installed.)
CLIENT_SIDE_FORBIDDEN = (*SERVER_MODULES, "pydantic_settings", "typer", "threadloom.cli")


def test_exports_are_explicit_and_importable() -> None:
    assert sorted(threadloom.__all__) == threadloom.__all__
    for name in threadloom.__all__:
        assert hasattr(threadloom, name), name
    assert {"Client", "AsyncClient", "__version__"} <= set(threadloom.__all__)
    assert threadloom.__version__ == threadloom._version.__version__


def test_the_threadmem_names_stay_in_their_module() -> None:
    """``RoleThread`` and the other names of the original ``threadmem`` library are its
    compatibility API, in ``threadloom.threadmem``: not in the client's namespace."""
    for name in threadloom.threadmem.__all__:
        assert not hasattr(threadloom, name), name


def test_every_error_class_is_exported() -> None:
    errors = {
        name
        for name, value in vars(threadloom.errors).items()
        if inspect.isclass(value) and issubclass(value, threadloom.errors.ThreadloomError)
    }
    assert errors <= set(threadloom.__all__)


def test_exported_models_are_the_wire_models() -> None:
    for name in ("Thread", "Message", "State", "StateVersion", "Space", "Page", "ApiKey"):
        assert getattr(threadloom, name) is getattr(threadloom.models, name)


def test_client_module_names_its_api() -> None:
    assert threadloom.client.Client is threadloom.Client
    assert threadloom.client.AsyncClient is threadloom.AsyncClient
    for name in threadloom.client.__all__:
        assert hasattr(threadloom.client, name), name


@pytest.mark.parametrize("module", ["threadloom", "threadloom.client"])
def test_the_client_pulls_in_no_server_module(module: str) -> None:
    loaded = _modules_after_import(module)
    assert {"threadloom.client", "httpx", "pydantic"} <= loaded
    heavy = sorted(
        name
        for name in loaded
        if any(name == mod or name.startswith(mod + ".") for mod in CLIENT_SIDE_FORBIDDEN)
    )
    assert heavy == []


def test_the_environment_is_read_when_a_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREADLOOM_URL", "http://first.test")
    first = threadloom.Client()
    monkeypatch.setenv("THREADLOOM_URL", "http://second.test")
    second = threadloom.Client()
    assert (first.base_url, second.base_url) == ("http://first.test", "http://second.test")
    first.close()
    second.close()
