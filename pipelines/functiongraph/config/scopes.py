"""Which (region, project) scopes a run covers: configured, or discovered through IAM.

A single `region` + `project_id` keeps working; `projects` lists several; with neither project
id nor list, the account's projects are discovered (`GET {iam}/v3/auth/projects`) and filtered
by `regions` (or `region`). Every scope is validated before the first FunctionGraph request.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pipelines.functiongraph.config.settings import Scope, env_key, make_scope
from pipelines.functiongraph.errors import ConfigError
from pipelines.functiongraph.http.api import IAM_PROJECTS_PATH
from pipelines.functiongraph.http.client import FunctionGraphClient

logger = logging.getLogger(__name__)

GLOBAL_IAM_ENDPOINT = "https://iam.myhuaweicloud.com"


def _parsed(key: str, value: Any) -> Any:
    """Lists arrive as TOML arrays, or as JSON text from the environment."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if key == "regions" and not text.startswith("["):
            return [part.strip() for part in text.split(",") if part.strip()]
        try:
            return json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{env_key(key)} is not valid JSON: {exc}") from None
    return value


def configured_scopes(
    region: Any, project_id: Any, endpoint: str | None, projects: Any
) -> list[Scope] | None:
    """The scopes the configuration names, or None when they must be discovered."""
    listed = _parsed("projects", projects)
    if listed:
        if project_id:
            raise ConfigError(
                f"set either {env_key('projects')} or {env_key('project_id')}, not both"
            )
        if not isinstance(listed, list):
            raise ConfigError(f"{env_key('projects')} must be a list of {{region, project_id}}")
        scopes = []
        for index, entry in enumerate(listed):
            if not isinstance(entry, Mapping) or set(entry) - {"region", "project_id", "endpoint"}:
                raise ConfigError(
                    f"{env_key('projects')}[{index}] must be an object with region, project_id "
                    f"and optionally endpoint, not {entry!r}"
                )
            try:
                scopes.append(
                    make_scope(entry.get("region"), entry.get("project_id"), entry.get("endpoint"))
                )
            except ConfigError as exc:
                raise ConfigError(f"{env_key('projects')}[{index}]: {exc}") from None
        duplicates = {str(s) for s in scopes if scopes.count(s) > 1}
        if duplicates:
            raise ConfigError(f"{env_key('projects')} lists {', '.join(sorted(duplicates))} twice")
        return scopes
    if project_id:
        return [make_scope(region, project_id, endpoint)]
    return None


def region_filter(region: Any, regions: Any) -> set[str] | None:
    """Regions discovery keeps: `regions`, else `region`, else all (None)."""
    wanted = _parsed("regions", regions)
    if wanted:
        if not isinstance(wanted, list) or not all(isinstance(r, str) for r in wanted):
            raise ConfigError(f"{env_key('regions')} must be a list of region names")
        return set(wanted)
    return {str(region).strip()} if region and str(region).strip() else None


def discover_scopes(
    client: FunctionGraphClient, regions: set[str] | None, endpoint: str | None
) -> list[Scope]:
    """The account's enabled projects per region, as IAM lists them.

    A project's name is its region (`cn-north-4`) or a sub-project (`cn-north-4_team`); the
    account-level project (named after no region, e.g. `MOS`) holds no functions and is skipped.
    """
    body = client.get_json(IAM_PROJECTS_PATH, {}, "discovering projects through IAM")
    projects = body.get("projects") if isinstance(body, Mapping) else None
    if not isinstance(projects, list):
        raise ConfigError("IAM's project list has no 'projects' array")
    scopes = []
    for project in projects:
        if not isinstance(project, Mapping) or project.get("enabled") is False:
            continue
        name, project_id = str(project.get("name", "")), project.get("id")
        region = name.split("_", 1)[0]
        if "-" not in region or not project_id or (regions and region not in regions):
            continue
        scopes.append(make_scope(region, project_id, endpoint))
    logger.info(
        "discovered %d project(s): %s", len(scopes), ", ".join(str(s) for s in scopes) or "none"
    )
    if not scopes:
        wanted = f" in {', '.join(sorted(regions))}" if regions else ""
        raise ConfigError(f"IAM lists no enabled project{wanted} for these credentials")
    return sorted(scopes, key=lambda s: (s.region, s.project_id))
