"""Runs inside a virtual environment that has the original `threadmem` package.

Usage: python threadmem_run.py N  -> prints one JSON line {"post_s": ..., "read_s": ...}
"""

import json
import sys
import time

from threadmem import RoleThread  # type: ignore[import-not-found]

n = int(sys.argv[1])
thread = RoleThread()
start = time.perf_counter()
for i in range(n):
    thread.post("user" if i % 2 == 0 else "assistant", f"message number {i}")
posted = time.perf_counter()
tail = thread.messages()[-20:]  # the original has no tail read: it holds the whole thread
read = time.perf_counter()
assert len(tail) == min(20, n)
print(json.dumps({"post_s": posted - start, "read_s": read - posted}))
