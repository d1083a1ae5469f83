"""Who may touch the warehouse when: runs of different scopes overlap, a scope never does.

Two kinds of lock, held by every run (see `pipelines.runner.run`):

- **A scope's lock**, for the whole run: two runs of one scope (region/project) never overlap, so
  one scope's history is written in the order it was fetched, and a dlt working folder (named
  after the run's scopes) is only ever used by one run. Runs of other scopes go on.
- **The warehouse's turn**, held only briefly: to read what is live and sync dlt's state, to
  create tables and store the schema, to apply the models. On DuckDB, which allows one writer
  and one process at a time per file, the turn also covers the whole load: loads take turns,
  while fetching and normalizing run concurrently.

A DuckDB warehouse locks files beside the database (`<file>.lock`, and `<file>.scopes/` with one
file per scope); they work between processes of one machine, which is where a DuckDB file is.
PostgreSQL uses advisory locks of the database, so runs on several machines agree. Both are
released by the operating system or the server if a run dies, so a crash never leaves a lock.
Locks are re-entrant within a thread and exclude the other threads of the process.
Waiting is bounded by `FGS__LOCK_TIMEOUT`, said once when it starts, and a run that cannot get
its turn fails naming what it waited for, before it has changed anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import dlt

from pipelines.functiongraph.errors import FunctionGraphError
from pipelines.warehouse import dialect, lock_timeout

logger = logging.getLogger(__name__)

_POLL = 0.1
_registry = threading.Lock()
_local: dict[str, threading.RLock] = {}
_depth: dict[str, int] = {}


class LockTimeout(FunctionGraphError):
    """Another run held what this one needed for longer than `FGS__LOCK_TIMEOUT`."""


def duckdb_file(pipeline: dlt.Pipeline) -> str | None:
    """The DuckDB file a pipeline writes, or None for another warehouse or in memory."""
    if dialect(pipeline) != "duckdb":
        return None
    path = pipeline.destination.config_params.get("credentials")
    return path if isinstance(path, str) and Path(path).is_absolute() else None


def loads_take_turns(pipeline: dlt.Pipeline) -> bool:
    """Whether a load must hold the warehouse's turn: DuckDB has one writer per file."""
    return duckdb_file(pipeline) is not None


@contextlib.contextmanager
def turn(pipeline: dlt.Pipeline) -> Iterator[None]:
    """The pipeline's exclusive turn at its warehouse (a no-op in memory)."""
    path = duckdb_file(pipeline)
    if path is not None:
        with _held(f"file:{path}", _flock(Path(f"{path}.lock")), f"another run is using {path}"):
            yield
    elif dialect(pipeline) == "postgres":
        key = f"{_postgres_space(pipeline)}:turn"
        busy = "another run is using the PostgreSQL dataset"
        with _held(key, _advisory(pipeline.sql_client, key), busy):
            yield
    else:
        yield


@contextlib.contextmanager
def scopes_held(pipeline: dlt.Pipeline, scopes: Sequence[str]) -> Iterator[None]:
    """Every one of `scopes` for this run alone, taken in one order so runs never deadlock.

    On PostgreSQL all of them are held on one connection of their own, whatever their number.
    """
    with contextlib.ExitStack() as stack:
        connection: Any = None
        if dialect(pipeline) == "postgres":
            connection = stack.enter_context(pipeline.sql_client())
        for scope in sorted(set(scopes)):
            stack.enter_context(_scope_held(pipeline, scope, connection))
        yield


def _scope_held(
    pipeline: dlt.Pipeline, scope: str, connection: Any
) -> contextlib.AbstractContextManager[None]:
    busy = f"another run of {scope} is under way"
    path = duckdb_file(pipeline)
    if path is not None:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", scope)
        digest = hashlib.sha256(scope.encode()).hexdigest()[:8]
        lock = Path(f"{path}.scopes") / f"{safe}-{digest}.lock"
        return _held(f"file:{lock}", _flock(lock), busy)
    if connection is not None:
        key = f"{_postgres_space(pipeline)}:scope:{scope}"
        return _held(key, _advisory(lambda: contextlib.nullcontext(connection), key), busy)
    return contextlib.nullcontext()


def pipelines_folder_held(pipelines_dir: str) -> contextlib.AbstractContextManager[None]:
    """dlt's pipelines folder, while a pipeline is created in it: dlt creates a working folder
    as if no other process could be creating the same one at that moment."""
    lock = Path(pipelines_dir) / ".fgs_async_configs.lock"
    return _held(
        f"file:{lock}", _flock(lock), f"another run is creating a pipeline in {lock.parent}"
    )


Acquire = Callable[[float, str], contextlib.AbstractContextManager[None]]
"""Takes a lock between processes, trying until the deadline (a `time.monotonic()` instant);
the text says what is busy, for the messages."""


@contextlib.contextmanager
def _held(key: str, acquire: Acquire, busy: str) -> Iterator[None]:
    """`key` for this thread: re-entrant, exclusive among the process's threads, and taken
    between processes by `acquire` on first entry."""
    timeout = lock_timeout()
    deadline = time.monotonic() + timeout
    with _registry:
        local = _local.setdefault(key, threading.RLock())
    if not local.acquire(blocking=False):
        _say_waiting(busy, timeout)
        if not local.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise _timed_out(busy, timeout)
    try:
        depth = _depth.get(key, 0)
        _depth[key] = depth + 1
        try:
            if depth:
                yield
            else:
                with acquire(deadline, busy):
                    yield
        finally:
            _depth[key] = depth
    finally:
        local.release()


def _wait_for(take: Callable[[], bool], deadline: float, busy: str) -> None:
    """Call `take` until it succeeds, saying once that the run waits; fail at the deadline."""
    if take():
        return
    _say_waiting(busy, max(deadline - time.monotonic(), 0))
    while time.monotonic() < deadline:
        time.sleep(_POLL)
        if take():
            return
    raise _timed_out(busy, lock_timeout())


def _say_waiting(busy: str, timeout: float) -> None:
    logger.warning("%s: waiting up to %gs", busy, timeout)


def _timed_out(busy: str, timeout: float) -> LockTimeout:
    return LockTimeout(f"{busy} (waited {timeout:g}s; FGS__LOCK_TIMEOUT sets how long)")


def _flock(path: Path) -> Acquire:
    @contextlib.contextmanager
    def acquire(deadline: float, busy: str) -> Iterator[None]:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+b") as handle:

            def take() -> bool:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return False
                return True

            _wait_for(take, deadline, busy)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return acquire


def _advisory(
    connection: Callable[[], contextlib.AbstractContextManager[Any]], key: str
) -> Acquire:
    """A session advisory lock on a `connection` the lock's holder owns: the server drops it
    with the connection, so a run that dies never leaves it behind."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)

    @contextlib.contextmanager
    def acquire(deadline: float, busy: str) -> Iterator[None]:
        with connection() as client:

            def take() -> bool:
                ((taken,),) = client.execute_sql("SELECT pg_try_advisory_lock(%s)", number)
                return bool(taken)

            _wait_for(take, deadline, busy)
            try:
                yield
            finally:
                with contextlib.suppress(Exception):  # the connection's end releases it anyway
                    client.execute_sql("SELECT pg_advisory_unlock(%s)", number)

    return acquire


def _postgres_space(pipeline: dlt.Pipeline) -> str:
    """Advisory locks belong to one database; the dataset (schema) narrows them further."""
    return f"fgs_async_configs:{pipeline.dataset_name}"
