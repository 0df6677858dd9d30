"""Library benchmark: post N messages to one thread, then read the newest 20.

    ./scripts/bench-library                 # N = 100, 1,000 and 10,000
    ./scripts/bench-library --sizes 100,1000 --timeout 120

Compares, in one run and on the same machine:
- threadloom's RoleThread API in local mode (SQLite),
- the original `threadmem` package (its own virtual environment, made on first use),
- LangChain's `SQLChatMessageHistory` from langchain-community (its own environment too).

Each competitor runs in a subprocess with a time limit; a run past it is printed as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / "bench" / ".venvs"
COMPETITORS = ROOT / "bench" / "competitors"
PACKAGES = {
    "threadmem": ["threadmem==0.2.39"],
    "langchain": ["langchain-community>=0.3", "greenlet>=3"],
}


def competitor_python(name: str) -> Path:
    """A virtual environment with the competitor installed, made once and kept."""
    venv = VENVS / name
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing {name} into {venv} (once) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        install = [str(python), "-m", "pip", "install", "--quiet", *PACKAGES[name]]
        done = subprocess.run(install, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"could not install {name}:\n{done.stderr}")
    return python


def run_threadloom(n: int, tmp: Path) -> dict[str, float]:
    """In a subprocess as well, so that every library starts cold in the same way."""
    script = COMPETITORS / "threadloom_run.py"
    env = {**os.environ, "THREADLOOM_DATABASE_URL": f"sqlite:///{tmp / f'tl-{n}.db'}"}
    out = subprocess.run(
        [sys.executable, str(script), str(n)], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_competitor(name: str, n: int, tmp: Path, timeout: float) -> dict[str, float] | None:
    python = competitor_python(name)
    home = tmp / f"{name}-{n}"
    home.mkdir()
    args = [str(python), str(COMPETITORS / f"{name}_run.py"), str(n)]
    if name == "langchain":
        args.append(str(home / "history.db"))
    env = {**os.environ, "HOME": str(home), "AGENTSEA_HOME": str(home)}
    try:
        out = subprocess.run(
            args, env=env, capture_output=True, text=True, check=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def fmt(result: dict[str, float] | None, timeout: float) -> str:
    if result is None:
        return f"> {timeout:.0f} s".rjust(10)
    return f"{result['post_s'] + result['read_s']:>9.3f}s"


def ratio(other: dict[str, float] | None, total: float, timeout: float) -> str:
    if other is None:
        return f"> {timeout / total:.0f}x"
    return f"{(other['post_s'] + other['read_s']) / total:.0f}x"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        for n in sizes:
            started = time.perf_counter()
            ours = run_threadloom(n, tmp)
            threadmem = run_competitor("threadmem", n, tmp, args.timeout)
            langchain = run_competitor("langchain", n, tmp, args.timeout)
            rows.append((n, ours, threadmem, langchain))
            print(f"N={n} done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print("\npost N messages one by one, then read the newest 20 (total seconds)\n")
    print("|      N |  threadloom |  threadmem | LangChain SQL | vs threadmem | vs LangChain |")
    print("|-------:|------------:|-----------:|--------------:|-------------:|-------------:|")
    for n, ours, threadmem, langchain in rows:
        total = ours["post_s"] + ours["read_s"]
        print(
            f"| {n:>6} | {total:>10.3f}s | {fmt(threadmem, args.timeout)} |"
            f" {fmt(langchain, args.timeout):>13} | {ratio(threadmem, total, args.timeout):>12} |"
            f" {ratio(langchain, total, args.timeout):>12} |"
        )


if __name__ == "__main__":
    main()
