"""The original ``threadmem`` library's ``RoleThread``/``RoleMessage`` API, over threadloom.

    from threadloom.threadmem import RoleThread

    thread = RoleThread(name="Support chat")          # local: the database the server uses
    thread.post("user", "What is in this picture?", images=["photo.png"])
    thread.post("assistant", "A cat.", private=True, metadata={"model": "m-1"})
    thread.messages(last_n=20)                         # the newest 20, one page read

    remote = RoleThread(remote="http://127.0.0.1:8000")  # a threadloom server (THREADLOOM_API_KEY)

Local threads (``remote=None``) live in ``THREADLOOM_DATABASE_URL`` (by default the SQLite file
the server uses), remote ones on a threadloom server, reached through its native API with
``auth_token``, ``THREADLOOM_API_KEY`` or the original's ``AGENTSEA_HUB_API_KEY``; either way
in the ``default`` space, so the server serves local threads (``/v1/spaces/default/threads``,
``/v1/rolethreads``) and the other way round.

What differs from the original, on purpose:

- an append costs the same on any thread: ``post`` appends one message through the store and
  never loads or rewrites the thread; ``messages()`` reads the store page by page;
- every field (private flags, metadata, roles) survives a round trip in both modes, roles can
  be removed remotely, and ``find`` filters on the server;
- ``version`` is a hash of the thread's id, message count, ``updated_at`` and state version;
- nothing happens at import (no database, no environment read); constructing a
  ``RoleMessage`` writes nothing (``RoleThread.add_msg`` or ``RoleMessage.save`` does), and
  ``copy()`` stores the copy at once;
- ``delete()`` works on local threads, and ``refresh()`` too;
- images given as file paths or base64 become ``data:`` URLs without Pillow (needed only
  for PIL images, which are recognized without importing it).
"""

from ._threadmem.messages import RoleMessage
from ._threadmem.records import RoleMessageRecord, RoleThreadRecord
from ._threadmem.schemas import (
    V1Role,
    V1RoleMessage,
    V1RoleThread,
    V1RoleThreads,
    V1UpdateRoleThread,
)
from ._threadmem.threads import RoleThread

__all__ = [
    "RoleMessage",
    "RoleMessageRecord",
    "RoleThread",
    "RoleThreadRecord",
    "V1Role",
    "V1RoleMessage",
    "V1RoleThread",
    "V1RoleThreads",
    "V1UpdateRoleThread",
]
