"""Where a run writes, and the dlt working folder that belongs to it.

dlt keys its working folder (state, schemas, pending load packages, trace) by pipeline name
alone, and resolves a relative DuckDB path against the folder of a pipeline's *first* run. With
one fixed name, two deployments on one machine would share pending packages and write into each
other's files. So every warehouse gets its own pipeline name, derived from what identifies it
(the absolute DuckDB path; the PostgreSQL server, database and user) and, for a run, from its
scopes: runs of other scopes into one warehouse may run at once (see `pipelines.locks`), each in
its own working folder. Relative paths are resolved against the folder the command starts in.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt

from pipelines.functiongraph.errors import ConfigError

logger = logging.getLogger(__name__)

PIPELINE_PREFIX = "fgs_async_configs"
DEFAULT_DATABASE = "fgs_async_configs.duckdb"
DEFAULT_LOCK_TIMEOUT = 300.0
_IN_MEMORY = (":memory:", "")


def dialect(pipeline: dlt.Pipeline) -> str:
    """The warehouse a pipeline loads into, by dlt's name for it (`duckdb`, `postgres`)."""
    return str(pipeline.destination.destination_name)


def pipeline_name_for(identity: str, scopes: Sequence[str] = ()) -> str:
    """`fgs_async_configs_<12 hex digits>`: one dlt working folder per warehouse and set of
    scopes, so that runs of other scopes into the same warehouse never share one."""
    key = "\n".join([identity, *sorted(set(scopes))])
    return f"{PIPELINE_PREFIX}_{_digest(key, 12)}"


def staging_layout(scopes: Sequence[str]) -> str:
    """dlt's `staging_dataset_name_layout` for a run of `scopes`: `<dataset>_staging_<digest>`.

    A merge goes through staging tables that dlt truncates and fills for each load: runs of
    other scopes loading into one PostgreSQL dataset at once must not share them.
    """
    key = "\n".join(sorted(set(scopes)))
    return f"%s_staging_{_digest(key, 10)}"


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


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
    """dlt config `fgs.lock_timeout` (env `FGS__LOCK_TIMEOUT`): seconds a run waits for another
    one (see `pipelines.locks`)."""
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
