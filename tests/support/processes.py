"""Another process holding something (a lock file, a DuckDB file) while a test runs."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

LOCKS_FILE = "import fcntl, sys; f = open(sys.argv[1], 'a+b'); fcntl.flock(f, fcntl.LOCK_EX)"
"""As another run holds one of the connector's lock files."""
OPENS_DUCKDB = "import duckdb, sys; c = duckdb.connect(sys.argv[1])"
"""As a notebook holds a DuckDB file open for writing."""


@contextlib.contextmanager
def held_elsewhere(code: str, path: Path | str) -> Iterator[None]:
    """`code` run by another Python process (with `path` as `sys.argv[1]`) until the block ends:
    the block starts once it has run, and the process ends, releasing all it holds, after."""
    holder = subprocess.Popen(
        [sys.executable, "-c", f"{code}; print('ready', flush=True); sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "ready\n"
        yield
    finally:
        holder.communicate("", timeout=30)
