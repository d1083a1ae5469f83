"""Validation of the source's configuration, done before any request is sent.

dlt resolves the raw values (config files, secrets, environment); these checks turn a value that
cannot work into a `ConfigError` naming the key to fix, in its environment-variable form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pipelines.functiongraph.errors import ConfigError

ENV_PREFIX = "SOURCES__FUNCTIONGRAPH__"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def env_key(name: str) -> str:
    """The environment-variable form of a `sources.functiongraph` key."""
    return ENV_PREFIX + name.upper()


@dataclass(frozen=True)
class Scope:
    """One (region, project) pair and the endpoint that serves it."""

    region: str
    project_id: str
    endpoint: str

    def __str__(self) -> str:
        return f"project {self.project_id} in {self.region}"

    @property
    def key(self) -> str:
        """How summaries name the scope: `region/project_id`."""
        return f"{self.region}/{self.project_id}"


def default_endpoint(region: str) -> str:
    return f"https://functiongraph.{region}.myhuaweicloud.com"


def require_name(key: str, value: object) -> str:
    """Regions and project ids end up in URLs: refuse empty values and path characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ConfigError(f"{env_key(key)} is not set")
    text = str(value).strip()
    if not _NAME.match(text):
        raise ConfigError(f"{env_key(key)} has an invalid value {text!r}")
    return text


def default_iam_endpoint(region: str) -> str:
    return f"https://iam.{region}.myhuaweicloud.com"


def check_endpoint(value: str, key: str = "endpoint") -> str:
    """An endpoint is an http(s) base URL without query or fragment; a trailing `/` is dropped."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{env_key(key)} must be an http(s) URL such as "
            f"https://functiongraph.cn-north-4.myhuaweicloud.com, not {value!r}"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{env_key(key)} must not carry a query or fragment: {value!r}")
    return value.strip().rstrip("/")


def make_scope(region: object, project_id: object, endpoint: str | None) -> Scope:
    region_name = require_name("region", region)
    return Scope(
        region=region_name,
        project_id=require_name("project_id", project_id),
        endpoint=check_endpoint(endpoint) if endpoint else default_endpoint(region_name),
    )


def bounded(key: str, value: object, minimum: float, maximum: float, cast: type = int) -> Any:
    """Numbers may arrive as strings from env or TOML; say which key is wrong and the range."""
    try:
        number = None if isinstance(value, bool) else cast(str(value).strip())
    except ValueError:
        number = None
    if number is None or number != number or not minimum <= number <= maximum:  # NaN != NaN
        kind = "a whole number" if cast is int else "a number"
        raise ConfigError(
            f"{env_key(key)} must be {kind} from {minimum} to {maximum}, not {value!r}"
        )
    return number
