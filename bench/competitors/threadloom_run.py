"""threadloom's side of the library benchmark (the project's own environment).

Usage: THREADLOOM_DATABASE_URL=sqlite:///... python threadloom_run.py N
"""

import json
import sys
import time

from threadloom.threadmem import RoleThread

n = int(sys.argv[1])
thread = RoleThread()
start = time.perf_counter()
for i in range(n):
    thread.post("user" if i % 2 == 0 else "assistant", f"message number {i}")
posted = time.perf_counter()
tail = thread.messages(last_n=20)  # one page read: the newest 20
read = time.perf_counter()
assert len(tail) == min(20, n)
assert tail[-1].text == f"message number {n - 1}"
print(json.dumps({"post_s": posted - start, "read_s": read - posted}))
