"""The examples of the five original designs, copied verbatim: every curl command, JSON body,
documented response and Python snippet. The tests in this package run them as they are; only
the host changes, and the placeholders a design leaves to its reader (``{space_id}``,
``{thread_id}``, ``your_api_key``) become real ids and keys.

The designs' lines are kept as they are, however long (E501 is off for this file only).
"""

from __future__ import annotations

from typing import Any

# seeds/000: the thread state API -----------------------------------------------------------

STATE_HOST = "http://127.0.0.1:8000"

STATE_CREATE_BODY: dict[str, Any] = {
    "thread_id": "string",
    "state": "string",
}
"""``POST /threads/``: its request body."""

STATE_GET_RESPONSE: dict[str, Any] = {
    "thread_id": "string",
    "state": "string",
}
"""``GET /threads/{thread_id}``: its response."""

STATE_UPDATE_BODY: dict[str, Any] = {
    "thread_id": "string",
    "state": "string",
}
"""``PUT /threads/{thread_id}``: its request body."""

STATE_EXAMPLE = """\
import httpx

# Create a thread
response = httpx.post("http://127.0.0.1:8000/threads/", json={"thread_id": "thread1", "initial_message": "Hello, world!"})
print(response.json())

# Update thread state
response = httpx.put("http://127.0.0.1:8000/threads/thread1", json={"state": "active"})
print(response.json())

# Get thread state
response = httpx.get("http://127.0.0.1:8000/threads/thread1")
print(response.json())
"""
"""The design's "simple example to create a thread and update its state"."""

# seeds/001: the threaded assistant ---------------------------------------------------------

ASSISTANT_HOST = "http://127.0.0.1:8000"

WELCOME_RESPONSE: dict[str, Any] = {"message": "Welcome to the OpenAI Threaded Assistant API!"}
"""``GET /``: its response."""

ASK_BODY: dict[str, Any] = {
    "session_id": "string",
    "user_input": "string",
}
"""``POST /ask``: its request body."""

ASK_RESPONSE: dict[str, Any] = {
    "session_id": "string",
    "response": "string",
}
"""``POST /ask``: its response."""

ASK_CURL = """\
curl -X 'POST' \\
  'http://127.0.0.1:8000/ask' \\
  -H 'Content-Type: application/json' \\
  -d '{
  "session_id": "12345",
  "user_input": "Hello, how are you?"
}'"""

ASSISTANTS = ("Bob", "Private-Bob")
"""The two assistants; "To use Private-Bob, include the password (973808) in the user input"."""
PRIVATE_BOB_PASSWORD = "973808"

CORS_CONFIGURATION: dict[str, Any] = {
    "allow_origins": ["*"],
    "allow_credentials": True,
    "allow_methods": ["GET", "POST", "PUT", "DELETE"],
    "allow_headers": ["*"],
}
"""The ``CORSMiddleware`` arguments the design shows."""

# seeds/002: spaces, threads and messages ---------------------------------------------------

SPACES_HOST = "https://api.example.com"

LIST_THREADS_CURL = 'curl -X GET "https://api.example.com/v1/spaces/{space_id}/threads" -H "X-API-Key: your_api_key"'

GET_THREAD_CURL = 'curl -X GET "https://api.example.com/v1/spaces/{space_id}/threads/{thread_id}" -H "X-API-Key: your_api_key"'

PATCH_THREAD_CURL = """\
curl -X PATCH "https://api.example.com/v1/spaces/{space_id}/threads/{thread_id}" \\
-H "X-API-Key: your_api_key" \\
-H "Content-Type: application/json" \\
-d '{"title": "Updated Thread Title"}'"""

ARCHIVE_THREAD_CURL = 'curl -X DELETE "https://api.example.com/v1/spaces/{space_id}/threads/{thread_id}" -H "X-API-Key: your_api_key"'

LIST_MESSAGES_CURL = 'curl -X GET "https://api.example.com/v1/spaces/{space_id}/threads/{thread_id}/messages" -H "X-API-Key: your_api_key"'

CREATE_MESSAGE_CURL = """\
curl -X POST "https://api.example.com/v1/spaces/{space_id}/threads/{thread_id}/messages" \\
-H "X-API-Key: your_api_key" \\
-H "Idempotency-Key: unique_key" \\
-H "Content-Type: application/json" \\
-d '{"content": "This is a new message."}'"""

FIRST_MESSAGE_CURL = """\
curl -X POST "https://api.example.com/v1/spaces/{space_id}/threads/messages" \\
-H "X-API-Key: your_api_key" \\
-H "Idempotency-Key: unique_key" \\
-H "Content-Type: application/json" \\
-d '{"content": "Starting a new conversation."}'"""

# seeds/003: the threadmem library ----------------------------------------------------------

FIND_MESSAGES_EXAMPLE = """\
found_messages = RoleMessage.find(role="example_role")
"""
"""``RoleMessage.find``'s example (a doctest in the design)."""

FIND_THREADS_HOST = "http://example.com"

FIND_THREADS_EXAMPLE = """\
remote_url = "http://example.com"
owner_id = "user123"
found_threads = RoleThread.find(remote=remote_url, owner_id=owner_id)
print(found_threads)
"""
"""``RoleThread.find``'s example (a doctest in the design)."""

FIND_THREADS_OUTPUT = "[RoleThread(owner_id='user123', public=True, name='Thread Name', ...)]"
"""What the design's doctest prints (``...``: the other fields)."""

# seeds/004: chat sessions ------------------------------------------------------------------

NEW_SESSION_RESPONSE: dict[str, Any] = {"session_id": "unique_session_id"}
"""``POST /new_session``: its response."""

CHAT_BODY: dict[str, Any] = {"session_id": "unique_session_id", "message": "user_message"}
"""``POST /chat``: its request body."""

SESSIONS_RESPONSE: dict[str, Any] = {"sessions": ["session_id_1", "session_id_2", ...]}
"""``GET /sessions``: its response."""

HISTORY_RESPONSE: dict[str, Any] = {
    "history": [{"input": "user_message", "output": "bot_response"}, ...]
}
"""``GET /session/{session_id}/history``: its response."""
