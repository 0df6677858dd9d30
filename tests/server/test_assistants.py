"""The assistant endpoints and the rules of who sees, changes and is answered by which
assistant, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import services_of
from tests.fixtures.databases import make_settings
from threadloom.config import Settings
from threadloom.core.assistants import AssistantService
from threadloom.core.auth import Principal
from threadloom.errors import NotFound
from threadloom.models.keys import KeyRole

pytestmark = pytest.mark.anyio

PROBLEMS = "https://threadloom.dev/problems/"
ALPHA = "/v1/spaces/alpha/assistants"
PHRASE = "velvet  thunder  orchard"  # normalized: "velvet thunder orchard"
WIRE_FIELDS = {
    "object",
    "id",
    "space_id",
    "name",
    "provider",
    "model",
    "system_prompt",
    "temperature",
    "max_tokens",
    "context_tokens",
    "private",
    "grants",
    "has_unlock_phrase",
    "metadata",
    "created_at",
    "updated_at",
}


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(
        database_url=database_url,
        migrate_on_start=False,
        key_cache_seconds=0,
        llm_system_prompt="You are the house assistant.",
        llm_context_tokens=4096,
    )


@dataclass
class Keys:
    """Spaces ``alpha`` and ``beta``; an admin key, two writers and a reader of alpha, a
    writer of beta (secrets as header dicts, and the ids of the alpha keys)."""

    admin: dict[str, str]
    writer: dict[str, str]
    writer_id: str
    writer2: dict[str, str]
    writer2_id: str
    reader: dict[str, str]
    reader_id: str
    beta: dict[str, str]
    beta_id: str
    admin_id: str


@pytest.fixture
async def keys(app: FastAPI) -> Keys:
    services = services_of(app)
    await services.store.create_space("alpha", "Alpha", {})
    await services.store.create_space("beta", "Beta", {})
    made: dict[str, tuple[dict[str, str], str]] = {}
    roster: list[tuple[str, KeyRole, str | None]] = [
        ("admin", "admin", None),
        ("writer", "writer", "alpha"),
        ("writer2", "writer", "alpha"),
        ("reader", "reader", "alpha"),
        ("beta", "writer", "beta"),
    ]
    for name, role, space in roster:
        secret, row = await services.keys.create(role, space, name)
        made[name] = ({"X-API-Key": secret}, row["id"])
    return Keys(
        admin=made["admin"][0],
        admin_id=made["admin"][1],
        writer=made["writer"][0],
        writer_id=made["writer"][1],
        writer2=made["writer2"][0],
        writer2_id=made["writer2"][1],
        reader=made["reader"][0],
        reader_id=made["reader"][1],
        beta=made["beta"][0],
        beta_id=made["beta"][1],
    )


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEMS + slug
    assert body["status"] == status
    return body


async def create(
    api: httpx.AsyncClient, headers: dict[str, str], path: str = ALPHA, **body: Any
) -> dict[str, Any]:
    body.setdefault("name", body.get("id", "Ada"))
    response = await api.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed_ids(api: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await api.get(ALPHA, params={"limit": 100}, headers=headers)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


def assistants(app: FastAPI) -> AssistantService:
    return services_of(app).assistants


# Create -----------------------------------------------------------------------------------


class TestCreateAssistant:
    async def test_defaults(self, api: httpx.AsyncClient, keys: Keys) -> None:
        created = await create(api, keys.writer, name="Ada")
        assert set(created) == WIRE_FIELDS | {"warnings"}
        assert created.pop("warnings") == []  # in the answer to a write only
        assert created["id"].startswith("ast_")
        assert created["space_id"] == "alpha"
        assert created["name"] == "Ada"
        for field in ("provider", "model", "system_prompt", "temperature", "max_tokens"):
            assert created[field] is None, field
        assert created["context_tokens"] == 4096  # THREADLOOM_LLM_CONTEXT_TOKENS
        assert created["private"] is False
        assert created["grants"] == []
        assert created["has_unlock_phrase"] is False
        assert created["metadata"] == {}
        assert created["created_at"].endswith("Z")
        assert created["created_at"] == created["updated_at"]
        fetched = await api.get(f"{ALPHA}/{created['id']}", headers=keys.reader)
        assert fetched.json() == created

    async def test_every_field(self, api: httpx.AsyncClient, keys: Keys) -> None:
        created = await create(
            api,
            keys.admin,
            id="support",
            name="Support",
            provider="openai",
            model="gpt-4o-mini",
            system_prompt="Answer support questions.",
            temperature=0.2,
            max_tokens=800,
            context_tokens=16000,
            private=True,
            grants=[keys.writer_id, keys.writer_id, keys.admin_id],
            unlock_phrase=PHRASE,
            metadata={"team": "support"},
        )
        assert created["id"] == "support"
        assert (created["provider"], created["model"]) == ("openai", "gpt-4o-mini")
        assert created["temperature"] == 0.2
        assert (created["max_tokens"], created["context_tokens"]) == (800, 16000)
        assert created["private"] is True
        assert created["grants"] == [keys.writer_id, keys.admin_id]  # without repeats
        assert created["has_unlock_phrase"] is True
        assert "unlock_phrase" not in created
        assert created["metadata"] == {"team": "support"}

    async def test_duplicate_id_and_name_are_409(self, api: httpx.AsyncClient, keys: Keys) -> None:
        await create(api, keys.writer, id="ada", name="Ada")
        same_id = await api.post(ALPHA, json={"id": "ada", "name": "Other"}, headers=keys.writer)
        assert "'ada'" in assert_problem(same_id, 409, "already-exists")["detail"]
        same_name = await api.post(ALPHA, json={"name": "Ada"}, headers=keys.writer)
        assert "'Ada'" in assert_problem(same_name, 409, "already-exists")["detail"]
        # Another space is another namespace.
        await create(api, keys.beta, "/v1/spaces/beta/assistants", id="ada", name="Ada")

    async def test_missing_space_is_404(self, api: httpx.AsyncClient, keys: Keys) -> None:
        response = await api.post(
            "/v1/spaces/nowhere/assistants", json={"name": "x"}, headers=keys.admin
        )
        assert_problem(response, 404, "not-found")

    async def test_another_spaces_key_gets_404(self, api: httpx.AsyncClient, keys: Keys) -> None:
        assert_problem(
            await api.post(ALPHA, json={"name": "x"}, headers=keys.beta), 404, "not-found"
        )

    async def test_readers_cannot_create(self, api: httpx.AsyncClient, keys: Keys) -> None:
        assert_problem(
            await api.post(ALPHA, json={"name": "x"}, headers=keys.reader), 403, "forbidden"
        )

    @pytest.mark.parametrize(
        "field",
        [
            {"private": True},
            {"grants": ["key_whatever"]},
            {"unlock_phrase": "open sesame now"},
        ],
    )
    async def test_operator_fields_need_an_admin_key(
        self, api: httpx.AsyncClient, keys: Keys, field: dict[str, Any]
    ) -> None:
        response = await api.post(ALPHA, json={"name": "x", **field}, headers=keys.writer)
        body = assert_problem(response, 403, "forbidden")
        assert next(iter(field)) in body["detail"]
        assert await listed_ids(api, keys.admin) == []

    async def test_writers_may_say_private_false(self, api: httpx.AsyncClient, keys: Keys) -> None:
        created = await create(api, keys.writer, name="x", private=False, grants=[])
        assert created["private"] is False

    async def test_idempotent_replay(self, api: httpx.AsyncClient, keys: Keys) -> None:
        headers = {**keys.writer, "Idempotency-Key": "make-ada"}
        first = await api.post(ALPHA, json={"name": "Ada"}, headers=headers)
        assert first.status_code == 201, first.text
        again = await api.post(ALPHA, json={"name": "Ada"}, headers=headers)
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        other = await api.post(ALPHA, json={"name": "Grace"}, headers=headers)
        assert_problem(other, 422, "idempotency-key-reused")
        assert await listed_ids(api, keys.writer) == [first.json()["id"]]


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "loc"),
        [
            ({}, ["body", "name"]),
            ({"name": ""}, ["body", "name"]),
            ({"name": "x" * 101}, ["body", "name"]),
            ({"name": "x", "provider": "anthropic"}, ["body", "provider"]),
            ({"name": "x", "temperature": 2.5}, ["body", "temperature"]),
            ({"name": "x", "temperature": -0.1}, ["body", "temperature"]),
            ({"name": "x", "max_tokens": 0}, ["body", "max_tokens"]),
            ({"name": "x", "max_tokens": 100_001}, ["body", "max_tokens"]),
            ({"name": "x", "context_tokens": 255}, ["body", "context_tokens"]),
            ({"name": "x", "context_tokens": 1_000_001}, ["body", "context_tokens"]),
            ({"name": "x", "id": "no spaces"}, ["body", "id"]),
            ({"name": "x", "private": "yes"}, ["body", "private"]),
            ({"name": "x", "unlock_phrase": ""}, ["body", "unlock_phrase"]),
            ({"name": "x", "unlock_phrase": "x" * 201}, ["body", "unlock_phrase"]),
            ({"name": "x", "grants": ["bad id"]}, ["body", "grants", 0]),
            ({"name": "x", "colour": "blue"}, ["body", "colour"]),
        ],
    )
    async def test_invalid_fields_are_422_with_their_location(
        self, api: httpx.AsyncClient, keys: Keys, body: dict[str, Any], loc: list[Any]
    ) -> None:
        problem = assert_problem(
            await api.post(ALPHA, json=body, headers=keys.admin), 422, "validation-error"
        )
        assert problem["errors"][0]["loc"] == loc

    @pytest.mark.parametrize("blank", [" ", "  \t\n  "])
    async def test_a_blank_phrase_is_422(
        self, api: httpx.AsyncClient, keys: Keys, blank: str
    ) -> None:
        for response in (
            await api.post(ALPHA, json={"name": "x", "unlock_phrase": blank}, headers=keys.admin),
            await api.patch(f"{ALPHA}/x", json={"unlock_phrase": blank}, headers=keys.admin),
        ):
            problem = assert_problem(response, 422, "validation-error")
            assert problem["errors"][0]["loc"] == ["body", "unlock_phrase"]
            assert problem["errors"][0]["type"] == "blank"
        assert await listed_ids(api, keys.admin) == []


class TestShortUnlockPhrase:
    """A phrase under 8 characters (the design's ``973808``) is saved, with a warning."""

    @pytest.mark.parametrize("phrase", ["973808", "ab     cd      e", "\u03a9"])
    async def test_a_short_phrase_is_saved_with_a_warning_and_logged_without_it(
        self,
        app: FastAPI,
        api: httpx.AsyncClient,
        keys: Keys,
        caplog: pytest.LogCaptureFixture,
        phrase: str,
    ) -> None:
        created = await create(
            api, keys.admin, id="pb", name="Private-Bob", private=True, unlock_phrase=phrase
        )
        assert created["has_unlock_phrase"] is True
        [warning] = created["warnings"]
        assert warning["code"] == "short_unlock_phrase"
        assert "8 characters" in warning["detail"]
        assert phrase not in str(created)
        logged = [r for r in caplog.records if r.name == "threadloom.assistants"]
        assert [r.levelname for r in logged] == ["WARNING"]
        assert "'pb'" in logged[0].getMessage()
        assert phrase not in caplog.text
        assert " ".join(phrase.split()) not in caplog.text
        fetched = await api.get(f"{ALPHA}/pb", headers=keys.admin)
        assert "warnings" not in fetched.json()
        found = await assistants(app).find_unlock("alpha", f"it is {phrase}!")
        assert found is not None
        assert found[0]["id"] == "pb"

    async def test_setting_a_short_phrase_warns_and_a_long_one_does_not(
        self, api: httpx.AsyncClient, keys: Keys, caplog: pytest.LogCaptureFixture
    ) -> None:
        await create(api, keys.admin, id="pb", private=True)
        short = await api.patch(f"{ALPHA}/pb", json={"unlock_phrase": "973808"}, headers=keys.admin)
        assert [w["code"] for w in short.json()["warnings"]] == ["short_unlock_phrase"]
        long = await api.patch(f"{ALPHA}/pb", json={"unlock_phrase": PHRASE}, headers=keys.admin)
        assert long.json()["warnings"] == []
        other = await api.patch(f"{ALPHA}/pb", json={"name": "P"}, headers=keys.admin)
        assert other.json()["warnings"] == []
        assert "973808" not in caplog.text
        assert len([r for r in caplog.records if r.name == "threadloom.assistants"]) == 1

    async def test_the_phrase_matches_whole_words_only(
        self, app: FastAPI, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.admin, id="pb", private=True, unlock_phrase="973808")
        for text in ("9738080", "x973808", "973808x", "97 38 08", "9738 08"):
            assert await assistants(app).find_unlock("alpha", text) is None, text
        found = await assistants(app).find_unlock("alpha", "code (973808) please")
        assert found is not None
        assert found[1] == "code please"

    async def test_the_openapi_document_types_the_warnings(self, api: httpx.AsyncClient) -> None:
        schemas = (await api.get("/openapi.json")).json()["components"]["schemas"]
        warnings = schemas["Assistant"]["properties"]["warnings"]
        assert warnings["items"]["$ref"].endswith("/AssistantWarning")
        assert set(schemas["AssistantWarning"]["required"]) == {"code", "detail"}
        assert (
            "short_unlock_phrase"
            in schemas["AssistantWarning"]["properties"]["code"]["description"]
        )
        phrase = schemas["AssistantCreate"]["properties"]["unlock_phrase"]["anyOf"][0]
        assert (phrase["minLength"], phrase["maxLength"]) == (1, 200)

    async def test_grants_must_name_keys_of_the_space(
        self, app: FastAPI, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        _, revoked = await services_of(app).keys.create("writer", "alpha", "gone")
        await services_of(app).keys.revoke(revoked["id"])
        for bad in ("key_missing", keys.beta_id, revoked["id"]):
            body = {"name": "x", "private": True, "grants": [keys.reader_id, bad]}
            response = await api.post(ALPHA, json=body, headers=keys.admin)
            problem = assert_problem(response, 422, "validation-error")
            assert problem["errors"][0]["loc"] == ["body", "grants", 1]
            assert bad in problem["detail"]
        assert await listed_ids(api, keys.admin) == []

    async def test_limits(self, api: httpx.AsyncClient, keys: Keys) -> None:
        too_long = {"name": "x", "system_prompt": "p" * 100_001}
        problem = assert_problem(
            await api.post(ALPHA, json=too_long, headers=keys.writer), 413, "payload-too-large"
        )
        assert problem["errors"][0]["loc"] == ["body", "system_prompt"]
        big = {"name": "x", "metadata": {"blob": "b" * 20_000}}
        problem = assert_problem(
            await api.post(ALPHA, json=big, headers=keys.writer), 413, "payload-too-large"
        )
        assert problem["errors"][0]["loc"] == ["body", "metadata"]

    async def test_null_is_refused_where_there_is_no_default(
        self, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.writer, id="ada")
        for field in ("name", "context_tokens", "private", "grants", "metadata"):
            response = await api.patch(f"{ALPHA}/ada", json={field: None}, headers=keys.admin)
            problem = assert_problem(response, 422, "validation-error")
            assert problem["errors"][0]["loc"] == ["body", field]


# Read -------------------------------------------------------------------------------------


class TestReadAssistants:
    async def test_paging(self, api: httpx.AsyncClient, keys: Keys) -> None:
        for n in range(5):
            await create(api, keys.writer, id=f"a{n}")
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 2}
        while True:
            page = (await api.get(ALPHA, params=params, headers=keys.reader)).json()
            assert page["object"] == "list"
            seen += [row["id"] for row in page["data"]]
            if not page["has_more"]:
                break
            params["after"] = page["last_id"]
        assert seen == ["a0", "a1", "a2", "a3", "a4"]
        back = (
            await api.get(
                ALPHA, params={"before": page["first_id"], "limit": 2}, headers=keys.reader
            )
        ).json()
        assert [row["id"] for row in back["data"]] == ["a2", "a3"]
        bad = await api.get(ALPHA, params={"after": "nonsense!"}, headers=keys.reader)
        assert_problem(bad, 422, "validation-error")

    async def test_missing_is_404(self, api: httpx.AsyncClient, keys: Keys) -> None:
        assert_problem(await api.get(f"{ALPHA}/nope", headers=keys.writer), 404, "not-found")

    async def test_other_spaces_do_not_exist(self, api: httpx.AsyncClient, keys: Keys) -> None:
        await create(api, keys.writer, id="ada")
        assert_problem(await api.get(f"{ALPHA}/ada", headers=keys.beta), 404, "not-found")
        assert_problem(await api.get(ALPHA, headers=keys.beta), 404, "not-found")
        assert_problem(
            await api.patch(f"{ALPHA}/ada", json={"name": "x"}, headers=keys.beta), 404, "not-found"
        )
        assert_problem(await api.delete(f"{ALPHA}/ada", headers=keys.beta), 404, "not-found")
        assert (await api.get(f"{ALPHA}/ada", headers=keys.writer)).status_code == 200


class TestPrivateAssistants:
    async def test_visible_to_admins_and_granted_keys_only(
        self, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.writer, id="open")
        await create(
            api, keys.admin, id="granted", private=True, grants=[keys.writer_id, keys.reader_id]
        )
        await create(api, keys.admin, id="closed", private=True)

        assert await listed_ids(api, keys.admin) == ["closed", "granted", "open"]
        assert await listed_ids(api, keys.writer) == ["granted", "open"]
        assert await listed_ids(api, keys.reader) == ["granted", "open"]
        assert await listed_ids(api, keys.writer2) == ["open"]

        for headers in (keys.writer, keys.reader):
            seen = await api.get(f"{ALPHA}/granted", headers=headers)
            assert seen.status_code == 200
            assert seen.json()["private"] is True
            assert seen.json()["grants"] == []  # grants are shown to admin keys only
        admin_view = (await api.get(f"{ALPHA}/granted", headers=keys.admin)).json()
        assert admin_view["grants"] == [keys.writer_id, keys.reader_id]

        hidden = await api.get(f"{ALPHA}/granted", headers=keys.writer2)
        missing = await api.get(f"{ALPHA}/nothing-here", headers=keys.writer2)
        assert_problem(hidden, 404, "not-found")
        assert hidden.json()["title"] == missing.json()["title"]
        assert_problem(await api.get(f"{ALPHA}/closed", headers=keys.writer), 404, "not-found")

    async def test_a_page_of_hidden_assistants_does_not_stop_paging(
        self, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        for n in range(3):
            await create(api, keys.admin, id=f"a{n}", private=True)
        await create(api, keys.writer, id="z")
        page = (await api.get(ALPHA, params={"limit": 1}, headers=keys.writer)).json()
        assert [row["id"] for row in page["data"]] == ["z"]
        assert page["has_more"] is False

    async def test_only_admins_change_or_delete_them(
        self, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.admin, id="p", private=True, grants=[keys.writer_id])
        rename = {"name": "renamed"}
        assert_problem(
            await api.patch(f"{ALPHA}/p", json=rename, headers=keys.writer), 403, "forbidden"
        )
        assert_problem(
            await api.patch(f"{ALPHA}/p", json=rename, headers=keys.writer2), 404, "not-found"
        )
        assert_problem(await api.delete(f"{ALPHA}/p", headers=keys.writer), 403, "forbidden")
        assert_problem(await api.delete(f"{ALPHA}/p", headers=keys.writer2), 404, "not-found")
        assert_problem(await api.delete(f"{ALPHA}/p", headers=keys.reader), 403, "forbidden")
        made_public = await api.patch(f"{ALPHA}/p", json={"private": False}, headers=keys.admin)
        assert made_public.json()["private"] is False
        assert await listed_ids(api, keys.writer2) == ["p"]

    async def test_writers_cannot_make_one_private(
        self, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.writer, id="ada")
        bodies: list[dict[str, Any]] = [{"private": True}, {"grants": []}, {"unlock_phrase": None}]
        for body in bodies:
            response = await api.patch(f"{ALPHA}/ada", json=body, headers=keys.writer)
            assert_problem(response, 403, "forbidden")
        ok = await api.patch(f"{ALPHA}/ada", json={"private": False}, headers=keys.writer)
        assert ok.status_code == 200


# Update and delete ------------------------------------------------------------------------


class TestUpdateAssistant:
    async def test_partial_update(self, api: httpx.AsyncClient, keys: Keys) -> None:
        created = await create(
            api,
            keys.writer,
            id="ada",
            provider="offline",
            model="m1",
            temperature=1.5,
            metadata={"keep": 1, "drop": 2},
        )
        response = await api.patch(
            f"{ALPHA}/ada",
            json={
                "name": "Ada 2",
                "model": None,
                "max_tokens": 99,
                "metadata": {"drop": None, "new": 3},
            },
            headers=keys.writer,
        )
        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated["name"] == "Ada 2"
        assert updated["model"] is None  # back to the server's default
        assert updated["max_tokens"] == 99
        assert updated["provider"] == "offline"  # untouched
        assert updated["temperature"] == 1.5
        assert updated["metadata"] == {"keep": 1, "new": 3}
        assert updated["created_at"] == created["created_at"]
        assert updated["updated_at"] >= created["updated_at"]
        assert updated.pop("warnings") == []
        assert (await api.get(f"{ALPHA}/ada", headers=keys.reader)).json() == updated

    async def test_rename_to_a_taken_name_is_409(self, api: httpx.AsyncClient, keys: Keys) -> None:
        await create(api, keys.writer, id="a", name="Ada")
        await create(api, keys.writer, id="b", name="Grace")
        response = await api.patch(f"{ALPHA}/b", json={"name": "Ada"}, headers=keys.writer)
        assert_problem(response, 409, "already-exists")

    async def test_missing_is_404_and_readers_403(self, api: httpx.AsyncClient, keys: Keys) -> None:
        await create(api, keys.writer, id="ada")
        assert_problem(
            await api.patch(f"{ALPHA}/nope", json={}, headers=keys.writer), 404, "not-found"
        )
        assert_problem(
            await api.patch(f"{ALPHA}/ada", json={}, headers=keys.reader), 403, "forbidden"
        )

    async def test_unlock_phrase_is_set_and_removed(
        self, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.admin, id="p", private=True)
        set_ = await api.patch(f"{ALPHA}/p", json={"unlock_phrase": PHRASE}, headers=keys.admin)
        assert set_.json()["has_unlock_phrase"] is True
        kept = await api.patch(f"{ALPHA}/p", json={"name": "P"}, headers=keys.admin)
        assert kept.json()["has_unlock_phrase"] is True
        removed = await api.patch(f"{ALPHA}/p", json={"unlock_phrase": None}, headers=keys.admin)
        assert removed.json()["has_unlock_phrase"] is False

    async def test_admin_changes_grants(self, api: httpx.AsyncClient, keys: Keys) -> None:
        await create(api, keys.admin, id="p", private=True, grants=[keys.writer_id])
        assert await listed_ids(api, keys.writer2) == []
        response = await api.patch(
            f"{ALPHA}/p", json={"grants": [keys.writer2_id]}, headers=keys.admin
        )
        assert response.json()["grants"] == [keys.writer2_id]
        assert await listed_ids(api, keys.writer2) == ["p"]
        assert await listed_ids(api, keys.writer) == []
        bad = await api.patch(f"{ALPHA}/p", json={"grants": [keys.beta_id]}, headers=keys.admin)
        assert_problem(bad, 422, "validation-error")


class TestDeleteAssistant:
    async def test_delete(self, api: httpx.AsyncClient, keys: Keys) -> None:
        await create(api, keys.writer, id="ada")
        assert_problem(await api.delete(f"{ALPHA}/ada", headers=keys.reader), 403, "forbidden")
        response = await api.delete(f"{ALPHA}/ada", headers=keys.writer)
        assert response.status_code == 204
        assert response.content == b""
        assert_problem(await api.get(f"{ALPHA}/ada", headers=keys.writer), 404, "not-found")
        assert_problem(await api.delete(f"{ALPHA}/ada", headers=keys.writer), 404, "not-found")

    async def test_deleting_the_space_deletes_its_assistants(
        self, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.admin, "/v1/spaces/beta/assistants", id="ada")
        gone = await api.delete("/v1/spaces/beta", params={"force": "true"}, headers=keys.admin)
        assert gone.status_code == 204
        assert (
            await api.post("/v1/spaces", json={"id": "beta"}, headers=keys.admin)
        ).status_code == 201
        page = await api.get("/v1/spaces/beta/assistants", headers=keys.admin)
        assert page.json()["data"] == []


# The unlock phrase is a secret ------------------------------------------------------------


async def test_the_unlock_phrase_is_never_shown_or_stored(
    app: FastAPI, api: httpx.AsyncClient, keys: Keys, database_url: str
) -> None:
    secret = "Marmalade Sky Lantern"
    created = await api.post(
        ALPHA,
        json={"id": "p", "name": "P", "private": True, "unlock_phrase": secret},
        headers=keys.admin,
    )
    patched = await api.patch(
        f"{ALPHA}/p", json={"unlock_phrase": secret + " Two"}, headers=keys.admin
    )
    fetched = await api.get(f"{ALPHA}/p", headers=keys.admin)
    listed = await api.get(ALPHA, headers=keys.admin)
    spec = await api.get("/openapi.json")
    for response in (created, patched, fetched, listed):
        assert response.status_code in (200, 201), response.text
        text = response.text
        assert "Marmalade" not in text
        assert '"unlock_phrase"' not in text
        assert "unlock_hash" not in text
        assert "unlock_salt" not in text
    assert fetched.json()["has_unlock_phrase"] is True
    assert "unlock_phrase" in spec.json()["components"]["schemas"]["AssistantCreate"]["properties"]
    assert "unlock_phrase" not in spec.json()["components"]["schemas"]["Assistant"]["properties"]

    raw = await services_of(app).store.get_assistant("alpha", "p")
    assert raw is not None
    assert "Marmalade" not in repr(raw)
    unlock_hash = raw["unlock_hash"]
    assert unlock_hash is not None
    assert len(unlock_hash) == 64
    assert raw["unlock_salt"]
    assert raw["unlock_words"] == 4
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                assert b"Marmalade" not in file.read_bytes()


# Who answers: find_unlock and resolve -----------------------------------------------------


@pytest.fixture
async def unlockable(api: httpx.AsyncClient, keys: Keys) -> None:
    await create(api, keys.admin, id="vault", private=True, unlock_phrase=PHRASE)
    await create(api, keys.admin, id="solo", private=True, unlock_phrase="Zanzibar")
    # Public assistants and private ones without a phrase are never unlocked.
    await create(api, keys.admin, id="pub", unlock_phrase="plain public phrase")


@pytest.mark.usefixtures("unlockable")
class TestFindUnlock:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("velvet thunder orchard", ""),
            ("velvet thunder orchard what is the plan?", "what is the plan?"),
            ("so, velvet thunder orchard. what now", "so, what now"),
            ("tell me: velvet   thunder\torchard", "tell me:"),
            ('"velvet thunder orchard!" then', "then"),
            ("(velvet thunder orchard) hi", "hi"),
            ("first line\nvelvet thunder orchard\nsecond line", "first line\nsecond line"),
            ("Zanzibar, hello", "hello"),
            ("hello 'Zanzibar'", "hello"),
        ],
    )
    async def test_found_and_stripped(self, app: FastAPI, text: str, expected: str) -> None:
        found = await assistants(app).find_unlock("alpha", text)
        assert found is not None
        row, stripped = found
        assert row["id"] in ("vault", "solo")
        assert stripped == expected
        assert "unlock_hash" not in row
        assert row["grants"] == []

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "velvet thunder",
            "velvet thunder orchards",
            "xvelvet thunder orchard",
            "velvet thunder-orchard",
            "Velvet Thunder Orchard",
            "orchard thunder velvet",
            "Zanzibarian",
            "plain public phrase",
            "velvet, thunder orchard",
        ],
    )
    async def test_no_false_match(self, app: FastAPI, text: str) -> None:
        assert await assistants(app).find_unlock("alpha", text) is None

    async def test_only_in_its_own_space(self, app: FastAPI) -> None:
        assert await assistants(app).find_unlock("beta", "velvet thunder orchard") is None

    async def test_a_long_message_is_searched_in_linear_time(self, app: FastAPI) -> None:
        words = " ".join(f"w{n}" for n in range(20_000))
        found = await assistants(app).find_unlock("alpha", f"{words} velvet thunder orchard")
        assert found is not None
        assert found[1] == words
        long_word = "x" * 100_000
        assert await assistants(app).find_unlock("alpha", f"{long_word} {long_word}") is None


class TestResolve:
    @pytest.fixture
    def writer(self, keys: Keys) -> Principal:
        return Principal(keys.writer_id, "writer", "alpha")

    async def test_the_built_in_default(self, app: FastAPI, writer: Principal) -> None:
        resolved = await assistants(app).resolve(writer, "alpha", None, "hello")
        assert resolved.text == "hello"
        row = resolved.row
        assert set(row) == WIRE_FIELDS
        assert (row["id"], row["name"], row["space_id"]) == ("default", "Default", "alpha")
        assert row["system_prompt"] == "You are the house assistant."
        assert row["context_tokens"] == 4096
        assert (row["provider"], row["model"]) == (None, None)
        assert row["private"] is False
        explicit = await assistants(app).resolve(writer, "alpha", "default", "hello")
        assert explicit.row == row

    async def test_the_spaces_default_then_the_requested_one(
        self, app: FastAPI, api: httpx.AsyncClient, keys: Keys, writer: Principal
    ) -> None:
        await create(api, keys.writer, id="default", name="House", system_prompt="Be terse.")
        await create(api, keys.writer, id="ada")
        resolved = await assistants(app).resolve(writer, "alpha", None, "hi")
        assert (resolved.row["name"], resolved.row["system_prompt"]) == ("House", "Be terse.")
        assert (await assistants(app).resolve(writer, "alpha", "ada", "hi")).row["id"] == "ada"
        with pytest.raises(NotFound):
            await assistants(app).resolve(writer, "alpha", "missing", "hi")
        with pytest.raises(NotFound):  # another space's key
            await assistants(app).resolve(writer, "beta", None, "hi")

    async def test_private_ones_answer_only_whom_they_grant(
        self, app: FastAPI, api: httpx.AsyncClient, keys: Keys, writer: Principal
    ) -> None:
        await create(api, keys.admin, id="p", private=True, grants=[keys.writer_id])
        await create(api, keys.admin, id="default", private=True)
        assert (await assistants(app).resolve(writer, "alpha", "p", "hi")).row["id"] == "p"
        other = Principal(keys.writer2_id, "writer", "alpha")
        with pytest.raises(NotFound):
            await assistants(app).resolve(other, "alpha", "p", "hi")
        # A private "default" this key may not see leaves it the built-in default.
        fallback = await assistants(app).resolve(other, "alpha", None, "hi")
        assert fallback.row["created_at"] is None

    @pytest.mark.usefixtures("unlockable")
    async def test_the_phrase_wins_over_the_request(
        self, app: FastAPI, api: httpx.AsyncClient, keys: Keys
    ) -> None:
        await create(api, keys.writer, id="ada")
        ungranted = Principal(keys.writer2_id, "writer", "alpha")
        resolved = await assistants(app).resolve(
            ungranted, "alpha", "ada", "velvet thunder orchard, open the vault"
        )
        assert resolved.row["id"] == "vault"
        assert resolved.row["has_unlock_phrase"] is True
        assert resolved.row["grants"] == []
        assert resolved.text == "open the vault"
        plain = await assistants(app).resolve(ungranted, "alpha", "ada", "open the vault")
        assert (plain.row["id"], plain.text) == ("ada", "open the vault")
