"""The web chat page in a real browser, against real server processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.chat.conftest import llm_env
from tests.fixtures.servers import LiveServer
from tests.llm.stub_openai import StubOpenAI

from .conftest import PHONE, PageFactory, add_messages, new_thread

pytestmark = [pytest.mark.ui, pytest.mark.server]

PIXEL_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M"
    "9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def composer(page: Page) -> Any:
    return page.get_by_label("Message", exact=True)


def send(page: Page, text: str) -> None:
    composer(page).fill(text)
    composer(page).press("Enter")


def messages_of(http: httpx.Client, thread_id: str) -> list[dict[str, Any]]:
    response = http.get(f"/v1/spaces/default/threads/{thread_id}/messages", params={"limit": 100})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def open_thread_id(page: Page) -> str:
    expect(page).to_have_url(re.compile("#/t/"))
    return page.url.split("#/t/", 1)[1]


class TestConversation:
    def test_a_session_is_created_answered_kept_and_archived(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        page = new_page()
        page.goto(f"{ui_server.url}/ui")
        expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
        expect(page.locator("#session-empty")).to_have_text("No sessions yet.")

        page.get_by_role("button", name="New chat").click()
        expect(page.locator(".session")).to_have_count(1)
        expect(page.locator("#thread-empty")).to_be_visible()
        thread_id = page.url.split("#/t/", 1)[1]

        send(page, "Hello, **loom**!")
        reply = page.locator(".msg-assistant").last
        expect(reply).to_contain_text("offline assistant")
        expect(reply).to_contain_text('you said "Hello, loom!"')  # rendered as Markdown
        expect(page.locator(".msg-user .msg-body")).to_have_text("Hello, **loom**!")  # as typed
        # The page shows the stored messages (from `start` and `done`), with their ids.
        stored = messages_of(http, thread_id)
        assert [m["role"] for m in stored] == ["user", "assistant"]
        expect(page.locator(".msg-user")).to_have_attribute("data-id", stored[0]["id"])
        expect(reply).to_have_attribute("data-id", stored[1]["id"])
        # The first message names the session.
        expect(page.locator(".session-title")).to_have_text("Hello, **loom**!")
        expect(page.locator("#thread-title")).to_have_text("Hello, **loom**!")
        expect(page.locator(".session-meta")).to_contain_text("2 messages")

        page.reload()
        expect(page.locator(".msg")).to_have_count(2)
        expect(page.locator(".msg-assistant")).to_contain_text("offline assistant")
        expect(page.locator(".session-link[aria-current=page]")).to_have_count(1)

        page.locator(".session").hover()
        page.get_by_role("button", name="Archive “Hello, **loom**!”").click()
        expect(page.locator(".session")).to_have_count(0)
        expect(page.get_by_role("heading", name="What can I help with?")).to_be_visible()
        assert http.get(f"/v1/spaces/default/threads/{thread_id}").json()["status"] == "archived"

        page.get_by_role("button", name="Undo").click()
        expect(page.locator(".session")).to_have_count(1)
        assert http.get(f"/v1/spaces/default/threads/{thread_id}").json()["status"] == "active"

    def test_sending_with_no_session_open_starts_one(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        page = new_page()
        page.goto(f"{ui_server.url}/ui/")
        page.get_by_role("button", name="Draft a reply").click()
        composer(page).press("Enter")
        expect(page.locator(".msg-assistant")).to_contain_text("offline assistant")
        thread_id = open_thread_id(page)
        title = http.get(f"/v1/spaces/default/threads/{thread_id}").json()["title"]
        assert title.startswith("Write a short, friendly reply")
        expect(page.locator(".session-title")).to_have_text(title)

    def test_older_messages_load_a_page_at_a_time_when_scrolling_up(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        thread = new_thread(http, "Long")
        add_messages(http, thread["id"], *({"content": f"message {n}"} for n in range(1, 131)))
        page = new_page()
        reads: list[str] = []

        def record(request: Request) -> None:
            if "/messages" in request.url:
                reads.append(request.url)

        page.on("request", record)
        page.goto(f"{ui_server.url}/ui/#/t/{thread['id']}")
        expect(page.locator(".msg")).to_have_count(50)
        expect(page.locator(".msg").last).to_contain_text("message 130")
        expect(page.locator(".msg").first).to_contain_text("message 81")
        scroller = page.locator("#conversation")
        assert scroller.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight") < 5

        scroller.evaluate("el => { el.scrollTop = 0 }")
        expect(page.locator(".msg")).to_have_count(100)
        # The reader still looks at what was on screen: the message that was first is.
        expect(page.get_by_text("message 81", exact=True)).to_be_in_viewport()
        assert scroller.evaluate("el => el.scrollTop") > 0

        scroller.evaluate("el => { el.scrollTop = 0 }")
        expect(page.locator(".msg")).to_have_count(130)
        expect(page.locator(".msg").first).to_contain_text("message 1")
        expect(page.locator("#older-status")).to_have_text("Start of the conversation")
        assert len(reads) == 3
        assert all("order=desc" in url and "limit=50" in url for url in reads)
        assert "after=" not in reads[0]
        assert all("after=" in url for url in reads[1:])

    def test_sessions_page_and_search_by_title(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        for n in range(32):
            new_thread(http, f"Alpha {n}")
        for n in range(3):
            new_thread(http, f"Beta {n}")
        page = new_page()
        page.goto(f"{ui_server.url}/ui/")
        expect(page.locator(".session")).to_have_count(30)
        expect(page.locator(".session-title").first).to_have_text("Beta 2")  # newest first
        page.get_by_role("button", name="Load more").click()
        expect(page.locator(".session")).to_have_count(35)
        expect(page.get_by_role("button", name="Load more")).to_be_hidden()

        page.get_by_label("Search sessions by title").fill("beta")
        expect(page.locator(".session")).to_have_count(3)
        page.get_by_label("Search sessions by title").fill("nothing like it")
        expect(page.locator("#session-empty")).to_have_text("No session matches this search.")
        page.get_by_label("Search sessions by title").fill("")
        expect(page.locator(".session")).to_have_count(30)


class TestToolCalls:
    def test_a_call_and_its_result_are_shown_not_empty_bubbles(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        thread = new_thread(http, "Weather")
        call = {"id": "call_1", "function": {"name": "weather", "arguments": '{"city":"<b>"}'}}
        add_messages(
            http,
            thread["id"],
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "name": "weather", "content": "sunny"},
        )
        page = new_page()
        page.goto(f"{ui_server.url}/ui/#/t/{thread['id']}")
        expect(page.locator(".msg")).to_have_count(3)
        calling = page.locator(".msg-assistant")
        expect(calling.locator(".tool-call code")).to_have_text('weather({"city":"<b>"})')
        expect(calling.locator(".msg-body")).to_have_count(0)  # no empty bubble under it
        result = page.locator(".msg-other")
        expect(result.locator(".msg-author")).to_have_text("Tool · weather")
        expect(result.locator(".tool-result code")).to_have_text("call_1")
        expect(result.locator(".msg-body")).to_have_text("sunny")
        assert page.locator("#messages b").count() == 0  # arguments are text


class TestUntrustedContent:
    def test_html_in_messages_is_shown_as_text_and_never_runs(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        script = "<script>window.__pwned=1</script>"
        image = '<img src=x onerror="window.__pwned=1">'
        link = "[click me](javascript:window.__pwned=1)"
        thread = new_thread(http, "<b>title</b>")
        add_messages(
            http,
            thread["id"],
            {"role": "user", "content": f"{script} {image}"},
            {"role": "assistant", "content": f"{script}\n\n{image}\n\n{link}"},
            {"role": "tool", "content": f"**{image}**"},
        )
        page = new_page()
        page.goto(f"{ui_server.url}/ui/#/t/{thread['id']}")
        expect(page.locator(".msg")).to_have_count(3)
        expect(page.locator(".msg-user .msg-body")).to_have_text(f"{script} {image}")
        expect(page.locator(".msg-assistant .msg-body")).to_contain_text(script)
        expect(page.locator(".msg-assistant .msg-body")).to_contain_text(link)
        expect(page.locator(".msg-other strong")).to_have_text(image)
        expect(page.locator(".session-title")).to_have_text("<b>title</b>")

        # The same through the streamed reply, which quotes what was said.
        send(page, image)
        expect(page.locator(".msg-assistant").last).to_contain_text(f'you said "{image}"')

        page.wait_for_timeout(300)  # a broken image would have fired its onerror by now
        assert page.evaluate("window.__pwned") is None
        assert page.locator("#messages img, #messages script, #messages a").count() == 0

    def test_only_web_and_inline_images_are_shown(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        icon = f"{ui_server.url}/ui/icon.svg"
        thread = new_thread(http, "Pictures")
        # The server takes http(s) and data: URLs; the page shows only data:image/ of these.
        images = [PIXEL_PNG, icon, "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="]
        add_messages(http, thread["id"], {"content": "Look", "images": images})
        page = new_page()
        page.goto(f"{ui_server.url}/ui/#/t/{thread['id']}")
        thumbs = page.locator(".msg-images img")
        expect(thumbs).to_have_count(2)
        assert [thumbs.nth(n).get_attribute("src") for n in range(2)] == [PIXEL_PNG, icon]
        page.get_by_role("button", name="View image 2").click()
        expect(page.locator("#image-dialog img")).to_have_attribute("src", icon)
        page.keyboard.press("Escape")
        expect(page.locator("#image-dialog")).to_be_hidden()


class TestApiKey:
    def test_the_page_asks_for_a_key_and_keeps_it(
        self,
        new_page: PageFactory,
        live_servers: Callable[..., LiveServer],
        sqlite_url: str,
    ) -> None:
        created = subprocess.run(
            [sys.executable, "-m", "threadloom", "keys", "create", "--admin"],
            env={**os.environ, "THREADLOOM_DATABASE_URL": sqlite_url},
            check=True,
            capture_output=True,
            text=True,
        )
        key = created.stdout.strip().splitlines()[-1]
        server = live_servers(sqlite_url, env={"THREADLOOM_LLM_PROVIDER": "offline"})
        page = new_page()
        page.goto(f"{server.url}/ui/")
        dialog = page.get_by_role("dialog", name="API key required")
        expect(dialog).to_be_visible()
        expect(page.get_by_label("API key", exact=True)).to_be_focused()

        page.get_by_label("API key", exact=True).fill("tl_not-a-key")
        dialog.get_by_role("button", name="Continue").click()
        expect(dialog.get_by_role("alert")).to_have_text(
            "That key was not accepted. Check it and try again."
        )
        page.get_by_label("API key", exact=True).fill(key)
        dialog.get_by_role("button", name="Continue").click()
        expect(dialog).to_be_hidden()
        assert page.evaluate("localStorage.getItem('threadloom.apiKey')") == key

        send(page, "Hello with a key")
        expect(page.locator(".msg-assistant")).to_contain_text("offline assistant")
        page.reload()
        expect(page.locator(".msg")).to_have_count(2)
        expect(dialog).to_be_hidden()

        # Settings forget the key; the next request asks again, and cancelling says why.
        page.get_by_role("button", name="Settings").click()
        settings = page.get_by_role("dialog", name="Settings")
        expect(settings).to_contain_text("A key is saved in this browser (tl_")
        settings.get_by_role("button", name="Forget the key").click()
        settings.get_by_role("button", name="Save").click()
        expect(dialog).to_be_visible()
        assert page.evaluate("localStorage.getItem('threadloom.apiKey')") is None
        dialog.get_by_role("button", name="Cancel").click()
        expect(page.locator(".toast")).to_contain_text("An API key is needed.")


@pytest.fixture
def acme_keys(http: httpx.Client) -> dict[str, str]:
    """Space ``acme`` with a thread, ``default`` with another, and a key of every role. The
    first key, the admin's, closes the open server: it makes the others."""
    assert http.post("/v1/spaces", json={"id": "acme", "name": "Acme"}).status_code == 201
    plans = http.post("/v1/spaces/acme/threads", json={"title": "Acme plans"})
    assert plans.status_code == 201, plans.text
    add = http.post(
        f"/v1/spaces/acme/threads/{plans.json()['id']}/messages", json={"content": "Ship it"}
    )
    assert add.status_code == 201, add.text
    new_thread(http, "Default things")
    keys: dict[str, str] = {}
    for role, space in (("admin", None), ("writer", "acme"), ("reader", "acme")):
        headers = auth_headers(keys["admin"]) if keys else {}
        created = http.post("/v1/keys", json={"role": role, "space_id": space}, headers=headers)
        assert created.status_code == 201, created.text
        keys[role] = created.json()["key"]
    return keys


def enter_key(page: Page, key: str) -> None:
    dialog = page.get_by_role("dialog", name="API key required")
    expect(dialog).to_be_visible()
    page.get_by_label("API key", exact=True).fill(key)
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog).to_be_hidden()


def auth_headers(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


class TestKeyRoles:
    """The page asks the server who its key is (GET /v1/keys/me) before it loads anything."""

    def test_a_writer_key_opens_its_own_space(
        self,
        new_page: PageFactory,
        ui_server: LiveServer,
        http: httpx.Client,
        acme_keys: dict[str, str],
    ) -> None:
        page = new_page()
        page.goto(f"{ui_server.url}/ui/")
        enter_key(page, acme_keys["writer"])
        expect(page.locator("#space-label")).to_have_text("acme")
        expect(page.locator(".session-title")).to_have_text(["Acme plans"])
        page.get_by_role("link", name="Acme plans").click()
        expect(page.locator(".msg-user")).to_contain_text("Ship it")

        send(page, "Next step?")
        expect(page.locator(".msg-assistant")).to_contain_text("offline assistant")
        thread_id = open_thread_id(page)
        stored = http.get(
            f"/v1/spaces/acme/threads/{thread_id}/messages",
            headers=auth_headers(acme_keys["admin"]),
        )
        assert [m["content"] for m in stored.json()["data"]][:2] == ["Ship it", "Next step?"]

        # The space is the key's: the settings show it and offer no other.
        page.get_by_role("button", name="Settings").click()
        settings = page.get_by_role("dialog", name="Settings")
        expect(settings.get_by_label("Space")).to_have_value("acme")
        expect(settings.get_by_label("Space")).not_to_be_editable()
        expect(settings).to_contain_text("This key works in this space only.")
        settings.get_by_role("button", name="Cancel").click()
        page.reload()
        expect(page.locator(".msg-user").first).to_contain_text("Ship it")
        expect(page.locator(".toast")).to_have_count(0)  # never "space 'default' does not exist"

        # A key given in the settings is asked about before anything is shown with it.
        page.get_by_role("button", name="Settings").click()
        settings.get_by_label("New API key").fill(acme_keys["reader"])
        settings.get_by_role("button", name="Save").click()
        expect(composer(page)).to_be_disabled()
        expect(page.locator("#read-only-note")).to_be_visible()

    def test_a_reader_key_reads_and_is_told_why_it_cannot_write(
        self,
        new_page: PageFactory,
        ui_server: LiveServer,
        http: httpx.Client,
        acme_keys: dict[str, str],
    ) -> None:
        reader = http.get("/v1/keys/me", headers=auth_headers(acme_keys["reader"]))
        assert reader.json()["role"] == "reader", reader.text
        reader_id = reader.json()["key_id"]
        page = new_page()
        page.goto(f"{ui_server.url}/ui/")
        enter_key(page, acme_keys["reader"])
        expect(page.locator("#space-label")).to_have_text("acme")
        note = page.locator("#read-only-note")
        expect(note).to_be_visible()
        expect(note).to_contain_text("This key can only read.")
        message_box = composer(page)
        expect(message_box).to_be_disabled()
        expect(message_box).to_have_attribute("placeholder", "This key can only read")
        expect(message_box).to_have_accessible_description(re.compile("This key can only read"))
        expect(page.get_by_role("button", name="Send")).to_be_disabled()
        expect(page.get_by_role("button", name="New chat")).to_be_disabled()
        expect(page.get_by_role("button", name="Draft a reply")).to_be_disabled()

        # Reading works; nothing on the page writes.
        page.get_by_role("link", name="Acme plans").click()
        expect(page.locator(".msg-user")).to_contain_text("Ship it")
        expect(page.locator(".session-archive")).to_be_hidden()
        expect(message_box).to_be_disabled()
        expect(page.locator(".toast")).to_have_count(0)

        # Revoked meanwhile, the key is refused; the key given instead is asked about again.
        revoked = http.delete(f"/v1/keys/{reader_id}", headers=auth_headers(acme_keys["admin"]))
        assert revoked.status_code == 204, revoked.text
        page.get_by_label("Search sessions by title").fill("acme")
        expect(
            page.get_by_role("dialog", name="API key required").get_by_role("alert")
        ).to_be_visible()
        enter_key(page, acme_keys["writer"])
        expect(message_box).to_be_enabled()
        expect(note).to_be_hidden()
        expect(message_box).to_have_attribute("placeholder", "Message the assistant…")
        expect(message_box).not_to_have_attribute("aria-describedby", re.compile("."))
        page.locator(".session").hover()
        expect(page.get_by_role("button", name="Archive “Acme plans”")).to_be_visible()

    def test_an_admin_key_works_in_the_space_picked_in_the_settings(
        self,
        new_page: PageFactory,
        ui_server: LiveServer,
        acme_keys: dict[str, str],
    ) -> None:
        page = new_page()
        page.goto(f"{ui_server.url}/ui/")
        enter_key(page, acme_keys["admin"])
        expect(page.locator("#space-label")).to_have_text("default")
        expect(page.locator(".session-title")).to_have_text(["Default things"])
        expect(composer(page)).to_be_enabled()
        expect(page.locator("#read-only-note")).to_be_hidden()

        page.get_by_role("button", name="Settings").click()
        settings = page.get_by_role("dialog", name="Settings")
        expect(settings.get_by_label("Space")).to_be_editable()
        expect(settings).to_contain_text("The space whose sessions are listed")
        settings.get_by_label("Space").fill("acme")
        settings.get_by_role("button", name="Save").click()
        expect(page.locator("#space-label")).to_have_text("acme")
        expect(page.locator(".session-title")).to_have_text(["Acme plans"])
        page.reload()
        expect(page.locator(".session-title")).to_have_text(["Acme plans"])  # kept


class TestPhone:
    def test_the_sessions_list_is_a_drawer(
        self, new_page: PageFactory, ui_server: LiveServer, http: httpx.Client
    ) -> None:
        thread = new_thread(http, "On the go")
        add_messages(http, thread["id"], {"content": "Hi from a phone"})
        page = new_page(PHONE, has_touch=True)
        page.goto(f"{ui_server.url}/ui/")
        toggle = page.get_by_role("button", name="Sessions")
        expect(toggle).to_be_visible()
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(page.locator("#sidebar")).not_to_be_in_viewport()
        expect(page.get_by_label("Message", exact=True)).to_be_in_viewport()

        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(page.locator("#sidebar")).to_be_in_viewport()
        page.get_by_role("link", name="On the go").click()
        expect(page.locator("#sidebar")).not_to_be_in_viewport()
        expect(page.locator(".msg-user")).to_contain_text("Hi from a phone")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    def test_desktop_has_no_drawer(self, new_page: PageFactory, ui_server: LiveServer) -> None:
        page = new_page()
        page.goto(f"{ui_server.url}/ui/")
        expect(page.get_by_role("button", name="Sessions")).to_be_hidden()
        expect(page.locator("#sidebar")).to_be_in_viewport()


@pytest.fixture
def stub() -> Iterator[StubOpenAI]:
    with StubOpenAI(stall_seconds=20.0) as server:
        yield server


@pytest.fixture
def stub_server(
    live_servers: Callable[..., LiveServer], sqlite_url: str, stub: StubOpenAI
) -> LiveServer:
    """A server whose provider is the stub; an assistant's model picks the stub's behaviour."""
    return live_servers(sqlite_url, env=llm_env(stub))


def new_assistant(server: LiveServer, name: str, model: str) -> str:
    response = httpx.post(
        f"{server.url}/v1/spaces/default/assistants",
        json={"name": name, "provider": "openai", "model": model},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


class TestReplies:
    def test_stop_keeps_the_partial_reply_marked_incomplete(
        self, new_page: PageFactory, stub_server: LiveServer
    ) -> None:
        assistant = new_assistant(stub_server, "Slow stub", "stub-stall-mid")
        page = new_page()
        page.goto(f"{stub_server.url}/ui/")
        page.get_by_label("Assistant").select_option(label="Slow stub")
        with page.expect_request(lambda r: r.url.endswith("/chat")) as chat_request:
            send(page, "Tell me everything")
        assert chat_request.value.post_data_json == {
            "content": "Tell me everything",
            "stream": True,
            "assistant": assistant,
        }
        streaming = page.locator(".msg-streaming")
        expect(streaming).to_contain_text("Hello")
        expect(streaming.locator(".msg-body")).to_have_attribute("aria-live", "polite")
        page.get_by_role("button", name="Stop the reply").click()
        reply = page.locator(".msg-assistant").last
        expect(reply.locator(".badge")).to_have_text("Incomplete")
        expect(page.get_by_role("button", name="Send")).to_be_visible()

        thread_id = open_thread_id(page)
        with httpx.Client(base_url=stub_server.url) as http:
            deadline = time.monotonic() + 10
            while len(stored := messages_of(http, thread_id)) < 2:
                assert time.monotonic() < deadline, "the partial reply was not stored"
                time.sleep(0.1)
        assert stored[1]["metadata"]["incomplete"] is True
        assert stored[1]["metadata"]["assistant"] == assistant
        page.reload()
        expect(page.locator(".msg-assistant")).to_contain_text("Hello")
        expect(page.locator(".msg-assistant .badge")).to_have_text("Incomplete")
        expect(page.get_by_label("Assistant")).to_have_value(assistant)  # remembered

    def test_a_failed_reply_shows_the_problem(
        self, new_page: PageFactory, stub_server: LiveServer
    ) -> None:
        new_assistant(stub_server, "Broken stub", "stub-500")
        page = new_page()
        page.goto(f"{stub_server.url}/ui/")
        page.get_by_label("Assistant").select_option(label="Broken stub")
        send(page, "Anyone there?")
        problem = page.locator(".msg-problem")
        expect(problem).to_be_visible()
        expect(problem).to_have_attribute("role", "alert")
        expect(problem).to_contain_text("500")
        expect(page.locator(".msg-user")).to_contain_text("Anyone there?")
