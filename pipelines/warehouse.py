"""Where a run writes, and the dlt working folder that belongs to it.

dlt keys its working folder (state, schemas, pending load packages, trace) by pipeline name
alone, and resolves a relative DuckDB path against the folder of a pipeline's *first* run. With
one fixed name, two deployments on one machine would share pending packages and write into each
other's files. So every warehouse gets its own pipeline name, derived from what identifies it
(the absolute DuckDB path; the PostgreSQL server, database and user), and relative paths are
resolved against the folder the command starts in.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt

from pipelines.functiongraph.errors import ConfigError, FunctionGraphError

logger = logging.getLogger(__name__)

PIPELINE_PREFIX = "fgs_async_configs"
DEFAULT_DATABASE = "fgs_async_configs.duckdb"
DEFAULT_LOCK_TIMEOUT = 300.0
_IN_MEMORY = (":memory:", "")


def pipeline_name_for(identity: str) -> str:
    """`fgs_async_configs_<12 hex digits>`: one dlt working folder per warehouse."""
    return f"{PIPELINE_PREFIX}_{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


def duckdb_database(database: str | None, dataset: str) -> str:
    """The DuckDB file as an absolute path, checked before any request is sent.

    From `--database`, else dlt's `DESTINATION__DUCKDB__CREDENTIALS`, else
    `fgs_async_configs.duckdb`; relative to the current folder. A path that cannot become a
    database file (a directory, a missing or read-only folder) is a `ConfigError` naming it.
    """
    raw = database or _configured("destination.duckdb.credentials") or DEFAULT_DATABASE
    if not isinstance(raw, str):
        raise ConfigError("DESTINATION__DUCKDB__CREDENTIALS must be the path of a DuckDB file")
    text = raw.removeprefix("duckdb:///")
    if text in _IN_MEMORY or text.startswith("md:"):  # in memory, or MotherDuck: not a path
        return text
    # resolved (`..` and symlinks), so two spellings of one file are one warehouse
    path = (Path.cwd() / Path(text).expanduser()).resolve()
    if path.stem == dataset:
        raise ConfigError(
            f"the DuckDB file must not be named {dataset}.duckdb: DuckDB would confuse it "
            f"with the dataset {dataset!r}; choose another file name"
        )
    if path.is_dir():
        raise ConfigError(f"the DuckDB database {path} is a directory, not a file")
    if not path.parent.is_dir():
        raise ConfigError(f"the folder of the DuckDB database {path} does not exist")
    writable = os.access(path, os.W_OK) if path.exists() else os.access(path.parent, os.W_OK)
    if not writable:
        raise ConfigError(f"the DuckDB database {path} cannot be written (permissions)")
    return str(path)


def postgres_identity(dataset: str) -> str:
    """Server, port, database and user of the configured PostgreSQL warehouse (no password)."""
    credentials = _configured("destination.postgres.credentials")
    if isinstance(credentials, str):
        parts = urlsplit(credentials)
        where = (parts.username, parts.hostname, parts.port, parts.path.lstrip("/"))
    elif isinstance(credentials, dict):
        keys = ("username", "host", "port", "database")
        where = tuple(credentials.get(key) for key in keys)  # type: ignore[assignment]
    else:
        where = (None, None, None, None)  # dlt names the missing key when it connects
    user, host, port, name = where
    return f"postgres://{user}@{host}:{port or 5432}/{name}#{dataset}"


def _configured(key: str) -> Any:
    """A dlt setting from secrets (where credentials belong) or, failing that, config."""
    value = dlt.secrets.get(key)
    return value if value is not None else dlt.config.get(key)


def lock_timeout() -> float:
    """dlt config `fgs.lock_timeout` (env `FGS__LOCK_TIMEOUT`): seconds to wait for the file."""
    raw = dlt.config.get("fgs.lock_timeout")
    if raw is None:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds <= 86400:
        raise ConfigError(f"FGS__LOCK_TIMEOUT must be seconds from 0 to 86400, not {raw!r}")
    return seconds


@contextlib.contextmanager
def exclusive(database: str, timeout: float) -> Iterator[None]:
    """Hold `<database>.lock` for a whole run: DuckDB has one writer, so runs take turns.

    A second run waits up to `timeout` seconds, saying so once, then fails naming the file,
    rather than failing inside dlt with a misleading "check your credentials" hint.
    """
    lock_path = Path(f"{database}.lock")
    with open(lock_path, "a+b") as handle:
        deadline = time.monotonic() + timeout
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise FunctionGraphError(
                        f"another run is using {database} (waited {timeout:g}s; "
                        "FGS__LOCK_TIMEOUT sets how long)"
                    ) from None
                if not waiting:
                    logger.warning("another run is using %s: waiting up to %gs", database, timeout)
                    waiting = True
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
