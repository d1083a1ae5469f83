"""The sandbox's data: projects, their functions and the async-invoke configs they serve.

Items are kept as raw JSON-able dicts, exactly as the API would serve them, so that any mess the
real API can produce (a missing side, a `param` that is not JSON, an unknown field) can be
represented and served byte-for-byte. Tests mutate an estate between pipeline runs through the
methods below; the server reads it under the same lock, so a page is always a consistent snapshot.
"""

from __future__ import annotations

import copy as _copy
import hashlib
import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ABSENT",
    "Estate",
    "Project",
    "cpu_for_memory",
    "function_urn",
    "make_config_item",
    "make_destination",
    "make_function_item",
    "tenant_secrets",
    "unqualified_urn",
    "user_data_text",
]

#: Domain (account) id used by hand-built function items when the caller does not give one.
DEFAULT_DOMAIN_ID = "7c4f2a9e1b3d4f6a8c0e2b4d6f8a1c3e"


class _Absent:
    """Marker for "leave this key out of the item", so tests can build items missing a field."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __deepcopy__(self, memo: dict[int, Any]) -> _Absent:
        return self


#: Pass as an override to `make_function_item` / `make_config_item` to drop that key entirely.
ABSENT: Any = _Absent()


def function_urn(region: str, project_id: str, package: str, name: str) -> str:
    """Build the unqualified (7-field) URN that ListFunctions serves."""
    return f"urn:fss:{region}:{project_id}:function:{package}:{name}"


def unqualified_urn(urn: str) -> str:
    """Drop the version/alias (8th field) of a URN; a 7-field URN is returned unchanged.

    Function and package names contain no ':', so splitting on ':' is exact.
    """
    parts = urn.split(":")
    if len(parts) == 8:
        return ":".join(parts[:7])
    if len(parts) == 7:
        return urn
    raise ValueError(f"not a FunctionGraph function URN: {urn!r}")


def _project_id_of(urn: str) -> str:
    return unqualified_urn(urn).split(":")[3]


def _region_of(urn: str) -> str:
    return unqualified_urn(urn).split(":")[2]


def _owned_copies(
    function_urn: str, items: Iterable[Mapping[str, Any]], foreign_ok: bool = False
) -> list[dict[str, Any]]:
    """Deep copies of config items, checking each belongs to `function_urn` (unless
    `foreign_ok`: a test serving one config under two functions says so explicitly).

    An item without a string `func_urn` is accepted as is: serving such mess is the point.
    """
    copies = [_copy.deepcopy(dict(item)) for item in items]
    if foreign_ok:
        return copies
    for item in copies:
        urn = item.get("func_urn")
        if isinstance(urn, str) and unqualified_urn(urn) != function_urn:
            raise ValueError(f"config {urn!r} does not belong to {function_urn}")
    return copies


def _apply_overrides(item: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if value is ABSENT:
            item.pop(key, None)
        else:
            item[key] = value
    return item


def _hex(seed: str, length: int) -> str:
    """`length` hex characters derived from `seed`: stable, distinct, random-looking."""
    out = ""
    counter = 0
    while len(out) < length:
        out += hashlib.sha512(f"{counter}:{seed}".encode()).hexdigest()
        counter += 1
    return out[:length]


def _uuid_like(seed: str) -> str:
    h = _hex(seed, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def user_data_text(variables: Mapping[str, Any]) -> str:
    """Environment variables as the API serves them in `user_data`: a JSON object, as text."""
    return json.dumps(dict(variables), separators=(",", ":"), ensure_ascii=False)


#: `memory_size` (MB) to the `cpu` (millicores) FunctionGraph allots it.
CPU_FOR_MEMORY = {128: 300, 256: 400, 512: 600, 768: 800, 1024: 1000, 2048: 1600, 4096: 2600}


def make_function_item(
    region: str, project_id: str, package: str, name: str, **overrides: Any
) -> dict[str, Any]:
    """A well-formed ListFunctions item; `overrides` replace fields (`ABSENT` removes one).

    It carries the fields of the official SDK's `ListFunctionResult` (but `gpu_memory`, which
    only GPU functions have) and newer ones (`enable_dynamic_memory`, `is_stateful_function`).
    Values that identify something (`resource_id`, `digest`, log ids, secrets) derive from the
    URN, so the same call always builds the same item and two functions never share a secret.

    `user_data` and `encrypted_user_data` are the function's environment variables as JSON
    text, holding the tenant's secrets ("tenant-secret-" + 24 hex characters; see
    `tenant_secrets`). A Mapping given for either is encoded to JSON text; a string is served
    verbatim (so tests can serve "", invalid JSON, ...).
    """
    urn = function_urn(region, project_id, package, name)
    item: dict[str, Any] = {
        "resource_id": _uuid_like(f"resource:{urn}"),
        "func_urn": urn,
        "func_name": name,
        "domain_id": DEFAULT_DOMAIN_ID,
        "namespace": project_id,
        "project_name": region,
        "package": package,
        "runtime": "Python3.9",
        "timeout": 30,
        "handler": "index.handler",
        "memory_size": 128,
        "cpu": CPU_FOR_MEMORY[128],
        "code_type": "inline",
        "code_url": "",
        "code_filename": "index.py",
        "code_size": 1024,
        "user_data": user_data_text(
            {
                "DB_HOST": f"db-{_hex(f'host:{urn}', 12)}.internal",
                "DB_PASSWORD": f"tenant-secret-{_hex(f'password:{urn}', 24)}",
            }
        ),
        "encrypted_user_data": user_data_text(
            {"API_KEY": f"tenant-secret-{_hex(f'api-key:{urn}', 24)}"}
        ),
        "digest": _hex(f"digest:{urn}", 128),
        "version": "latest",
        "image_name": f"latest-240304145002@{_hex(f'image:{urn}', 5)}",
        "xrole": "fgs-async-agency",
        "app_xrole": "fgs-async-agency",
        "description": "",
        "last_modified": "2024-03-04 14:50:02",
        "func_vpc_id": "",
        "strategy_config": {"concurrency": -1, "concurrent_num": 1},
        "extend_config": '{"enable_lts_log":false}',
        "initializer_handler": "",
        "initializer_timeout": 0,
        "pre_stop_handler": "",
        "pre_stop_timeout": 0,
        "enterprise_project_id": "0",
        "long_time": False,
        "log_group_id": "",
        "log_stream_id": "",
        "type": "v2",
        "fail_count": 0,
        "is_bridge_function": False,
        "bind_bridge_func_urns": [],
        "enable_dynamic_memory": False,
        "is_stateful_function": False,
    }
    for key in ("user_data", "encrypted_user_data"):
        value = overrides.get(key)
        if isinstance(value, Mapping):
            overrides = {**overrides, key: user_data_text(value)}
    memory = overrides.get("memory_size")
    if "cpu" not in overrides and isinstance(memory, int):
        item["cpu"] = cpu_for_memory(memory)
    return _apply_overrides(item, overrides)


def cpu_for_memory(memory_size: int) -> int:
    """The `cpu` (millicores) FunctionGraph serves for a `memory_size` (MB)."""
    return CPU_FOR_MEMORY.get(memory_size, max(300, memory_size // 2))


def _variables(text: Any) -> list[str]:
    """The string values of a `user_data` text; the whole text when it is not a JSON object."""
    if not isinstance(text, str) or not text.strip():
        return []
    try:
        variables = json.loads(text)
    except ValueError:
        return [text]
    if not isinstance(variables, dict):
        return [text]
    return [value for value in variables.values() if isinstance(value, str) and value]


def tenant_secrets(estate: Estate) -> set[str]:
    """Every environment-variable value in every function's `user_data` and
    `encrypted_user_data`: what a connector must never store, for tests to scan output for.

    Values are the non-empty strings of the JSON object; a text that is not a JSON object counts
    as one secret as a whole (a connector must not store it either).
    """
    with estate.lock:
        return {
            secret
            for project in estate.projects.values()
            for item in project.functions.values()
            for key in ("user_data", "encrypted_user_data")
            for secret in _variables(item.get(key))
        }


def make_destination(destination: str, param: Mapping[str, Any] | str) -> dict[str, Any]:
    """One side of `destination_config`: `param` is JSON-encoded into a string unless already one.

    A ready string is used verbatim, so tests can serve invalid or oddly spaced params.
    """
    if not isinstance(param, str):
        param = json.dumps(dict(param), separators=(",", ":"), ensure_ascii=False)
    return {"destination": destination, "param": param}


def make_config_item(
    function_urn: str,
    qualifier: str,
    *,
    on_success: Mapping[str, Any] | None = None,
    on_failure: Mapping[str, Any] | None = None,
    max_async_event_age_in_seconds: int = 3600,
    max_async_retry_attempts: int = 3,
    created_time: str = "2021-03-04T14:50:02+08:00",
    last_modified: str = "2021-03-04 14:50:02",
    enable_async_status_log: bool | Any = True,
    **overrides: Any,
) -> dict[str, Any]:
    """A well-formed async-invoke config item for `function_urn` qualified by `qualifier`.

    `qualifier` is "latest", a version ("v20240101-120000") or an alias ("!prod"). A side left as
    None is absent from `destination_config`; `overrides` replace or (with `ABSENT`) remove any
    top-level key, e.g. `destination_config=None` or `new_field="x"`; any field, named or not,
    given as `ABSENT` is left out.
    """
    destination_config: dict[str, Any] = {}
    if on_success is not None:
        destination_config["on_success"] = dict(on_success)
    if on_failure is not None:
        destination_config["on_failure"] = dict(on_failure)
    item: dict[str, Any] = {
        "func_urn": f"{unqualified_urn(function_urn)}:{qualifier}",
        "max_async_event_age_in_seconds": max_async_event_age_in_seconds,
        "max_async_retry_attempts": max_async_retry_attempts,
        "destination_config": destination_config,
        "created_time": created_time,
        "last_modified": last_modified,
        "enable_async_status_log": enable_async_status_log,
    }
    # Named arguments accept ABSENT too (e.g. `enable_async_status_log=ABSENT`).
    return _apply_overrides(item, {**item, **overrides})


@dataclass
class Project:
    """One (region, project_id) scope: what ListFunctions and the configs API serve for it.

    Keys of both dicts are unqualified function URNs; a function without configs has no entry in
    `configs` (or an empty list; both serve an empty page).
    """

    region: str
    project_id: str
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)
    configs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class Estate:
    """All projects the sandbox serves, plus a lock shared with the server.

    Every method takes the lock, and copies what it is given, so a test's later edits to its own
    dicts never leak into (or race with) what the server is serving.
    """

    def __init__(self, projects: Iterable[Project] = ()) -> None:
        self.lock = threading.RLock()
        self.projects: dict[str, Project] = {p.project_id: p for p in projects}

    def __repr__(self) -> str:
        with self.lock:
            n_functions = sum(len(p.functions) for p in self.projects.values())
            n_configs = sum(len(c) for p in self.projects.values() for c in p.configs.values())
        return (
            f"Estate(projects={len(self.projects)}, functions={n_functions}, configs={n_configs})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Estate):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    # -- reading -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A deep, plain-dict snapshot (for comparisons and for dumping a demo estate)."""
        with self.lock:
            return {
                pid: {
                    "region": p.region,
                    "functions": _copy.deepcopy(p.functions),
                    "configs": _copy.deepcopy(p.configs),
                }
                for pid, p in sorted(self.projects.items())
            }

    def copy(self) -> Estate:
        """An independent deep copy with its own lock (e.g. to keep the "before" of a mutation)."""
        with self.lock:
            return Estate(_copy.deepcopy(list(self.projects.values())))

    def function_urns(self, project_id: str) -> list[str]:
        """Unqualified URNs of a project's functions, in the order ListFunctions serves them."""
        with self.lock:
            return sorted(self._project(project_id).functions)

    def functions(self, project_id: str) -> list[dict[str, Any]]:
        """A project's function items ordered by `func_urn` (live references: hold `lock`)."""
        with self.lock:
            project = self._project(project_id)
            return [project.functions[urn] for urn in sorted(project.functions)]

    def configs(self, function_urn: str) -> list[dict[str, Any]] | None:
        """A function's config items in serving order, or None when the function is not listed.

        Returns live references: callers that serialise them must hold `lock`.
        """
        with self.lock:
            project = self._find_project(function_urn)
            if project is None or function_urn not in project.functions:
                return None
            return list(project.configs.get(function_urn, ()))

    def all_configs(self) -> list[dict[str, Any]]:
        """Deep copies of every config item of every project (handy for assertions)."""
        with self.lock:
            return [
                _copy.deepcopy(item)
                for p in self.projects.values()
                for items in p.configs.values()
                for item in items
            ]

    # -- mutating ------------------------------------------------------------------------------

    def add_project(self, region: str, project_id: str) -> Project:
        """Create (or return the existing) project; a region mismatch is a test bug, so raise."""
        with self.lock:
            project = self.projects.get(project_id)
            if project is None:
                project = self.projects[project_id] = Project(region, project_id)
            elif project.region != region:
                raise ValueError(f"project {project_id} is in {project.region}, not {region}")
            return project

    def add_function(
        self,
        project_id: str,
        item: Mapping[str, Any],
        configs: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """List a new function (creating its project from the URN's region if needed)."""
        urn = item["func_urn"]
        if unqualified_urn(urn) != urn or _project_id_of(urn) != project_id:
            raise ValueError(f"{urn!r} is not an unqualified URN of project {project_id}")
        new_configs = _owned_copies(urn, configs)  # validate before changing anything
        with self.lock:
            project = self.add_project(_region_of(urn), project_id)
            if urn in project.functions:
                raise ValueError(f"function already exists: {urn}")
            project.functions[urn] = _copy.deepcopy(dict(item))
            project.configs[urn] = new_configs

    def remove_function(self, function_urn: str) -> None:
        """Unlist a function and drop its configs (as a deletion in the console would)."""
        with self.lock:
            project = self._owner(function_urn)
            del project.functions[function_urn]
            project.configs.pop(function_urn, None)

    def set_configs(
        self, function_urn: str, items: Iterable[Mapping[str, Any]], *, foreign_ok: bool = False
    ) -> None:
        """Replace all configs of a function, keeping the given order as the serving order.

        An item whose `func_urn` belongs to another function is refused (a test bug, usually)
        unless `foreign_ok=True`: then it is served under this function as given, so one config
        URN can appear under two functions, as a confused API might serve it.
        """
        new_items = _owned_copies(function_urn, items, foreign_ok)
        with self.lock:
            self._owner(function_urn).configs[function_urn] = new_items

    def upsert_config(self, item: Mapping[str, Any]) -> None:
        """Replace the config with the same qualified `func_urn` in place, or append it."""
        qualified = item["func_urn"]
        owner_urn = unqualified_urn(qualified)
        new_item = _copy.deepcopy(dict(item))
        with self.lock:
            items = self._owner(owner_urn).configs.setdefault(owner_urn, [])
            for index, existing in enumerate(items):
                if existing.get("func_urn") == qualified:
                    items[index] = new_item
                    return
            items.append(new_item)

    def delete_config(self, func_urn: str) -> None:
        """Remove one config by its qualified URN; KeyError if it is not there."""
        owner_urn = unqualified_urn(func_urn)
        with self.lock:
            items = self._owner(owner_urn).configs.get(owner_urn, [])
            for index, existing in enumerate(items):
                if existing.get("func_urn") == func_urn:
                    del items[index]
                    return
        raise KeyError(f"no such config: {func_urn}")

    # -- internals -----------------------------------------------------------------------------

    def _project(self, project_id: str) -> Project:
        try:
            return self.projects[project_id]
        except KeyError:
            raise KeyError(f"no such project: {project_id}") from None

    def _find_project(self, function_urn: str) -> Project | None:
        try:
            return self.projects.get(_project_id_of(function_urn))
        except ValueError:
            return None

    def _owner(self, function_urn: str) -> Project:
        project = self._find_project(function_urn)
        if project is None or function_urn not in project.functions:
            raise KeyError(f"no such function: {function_urn}")
        return project
