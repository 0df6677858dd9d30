"""Runs inside a virtual environment that has `langchain-community` (SQLChatMessageHistory).

Usage: python langchain_run.py N SQLITE_PATH -> prints {"post_s": ..., "read_s": ...}
"""

import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")

from langchain_community.chat_message_histories import (  # type: ignore[import-not-found]  # noqa: E402
    SQLChatMessageHistory,
)
from langchain_core.messages import AIMessage, HumanMessage  # type: ignore[import-not-found]  # noqa: E402

n, path = int(sys.argv[1]), sys.argv[2]
history = SQLChatMessageHistory(session_id="bench", connection=f"sqlite:///{path}")
start = time.perf_counter()
for i in range(n):
    text = f"message number {i}"
    history.add_message(HumanMessage(text) if i % 2 == 0 else AIMessage(text))
posted = time.perf_counter()
tail = history.messages[-20:]  # reads the whole session, then slices
read = time.perf_counter()
assert len(tail) == min(20, n)
print(json.dumps({"post_s": posted - start, "read_s": read - posted}))
