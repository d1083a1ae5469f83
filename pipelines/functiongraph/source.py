"""The `functiongraph` dlt source: list functions, then fetch each function's async-invoke configs.

Config section `sources.functiongraph`, so every argument below has the environment form
`SOURCES__FUNCTIONGRAPH__<NAME>`. All validation happens when the source is created, before any
request, so a bad configuration never leaves a half-written load behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import tzinfo
from typing import Any

import dlt
from dlt.sources import DltResource

from pipelines.functiongraph.auth import auth_from_credentials
from pipelines.functiongraph.client import FunctionGraphClient
from pipelines.functiongraph.credentials import FunctionGraphCredentials
from pipelines.functiongraph.errors import ConfigError, FunctionNotFound
from pipelines.functiongraph.paging import FunctionListPaginator, PageInfoPaginator
from pipelines.functiongraph.records import (
    CONFIG_COLUMNS,
    FUNCTION_COLUMNS,
    shape_config,
    shape_function,
)
from pipelines.functiongraph.retries import RetryPolicy
from pipelines.functiongraph.settings import Scope, bounded, env_key, make_scope
from pipelines.functiongraph.timestamps import parse_zone
from pipelines.functiongraph.urns import quote_urn

logger = logging.getLogger(__name__)

FUNCTIONS_PAGE_MAX = 400
CONFIGS_PAGE_MAX = 100


@dlt.source(name="functiongraph", section="functiongraph", max_table_nesting=0)
def functiongraph(
    region: str | None = None,
    project_id: str | None = None,
    endpoint: str | None = None,
    credentials: FunctionGraphCredentials = dlt.secrets.value,
    naive_timezone: str = "+08:00",
    functions_page_size: int = FUNCTIONS_PAGE_MAX,
    configs_page_size: int = CONFIGS_PAGE_MAX,
    max_attempts: int = 5,
    request_timeout: float = 30.0,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
) -> Any:
    """FunctionGraph functions and their async-invoke configs for one region and project."""
    scope = make_scope(region, project_id, endpoint)
    try:
        zone = parse_zone(naive_timezone)
    except ValueError as exc:
        raise ConfigError(f"{env_key('naive_timezone')}: {exc}") from None
    client = FunctionGraphClient(
        scope.endpoint,
        auth_from_credentials(credentials),
        timeout=bounded("request_timeout", request_timeout, 0.001, 600, float),
        retry=RetryPolicy(
            max_attempts=bounded("max_attempts", max_attempts, 1, 100),
            backoff_base=bounded("backoff_base", backoff_base, 0, 600, float),
            backoff_max=bounded("backoff_max", backoff_max, 0, 3600, float),
        ),
    )
    functions = functions_resource(
        client, scope, zone, bounded("functions_page_size", functions_page_size, 1, 400)
    )
    configs = configs_transformer(
        client, scope, zone, bounded("configs_page_size", configs_page_size, 1, 100)
    )
    return functions, functions | configs


def identified(items: list[Any], what: str) -> Iterator[dict[str, Any]]:
    """Items that carry a `func_urn`; without one an item has no identity to store it under."""
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("func_urn"), str) and item["func_urn"]:
            yield item
        else:
            logger.warning("%s: skipping an item without func_urn: %s", what, str(item)[:200])


def functions_resource(
    client: FunctionGraphClient, scope: Scope, zone: tzinfo, page_size: int
) -> DltResource:
    @dlt.resource(
        name="functions",
        primary_key="func_urn",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=FUNCTION_COLUMNS,
    )
    def functions() -> Iterator[list[dict[str, Any]]]:
        paginator = FunctionListPaginator(page_size=page_size)
        path = f"/v2/{scope.project_id}/fgs/functions"
        what = f"listing functions of {scope}"
        for items in client.pages(path, paginator, what):
            yield [
                shape_function(
                    item, region=scope.region, project_id=scope.project_id, naive_zone=zone
                )
                for item in identified(items, what)
            ]

    return functions


def configs_transformer(
    client: FunctionGraphClient, scope: Scope, zone: tzinfo, page_size: int
) -> DltResource:
    @dlt.transformer(
        name="async_invoke_configs",
        primary_key="func_urn",
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        columns=CONFIG_COLUMNS,
    )
    def async_invoke_configs(
        functions_page: list[dict[str, Any]],
    ) -> Iterator[list[dict[str, Any]]]:
        for function in functions_page:
            yield fetch_configs(client, scope, zone, page_size, function["func_urn"])

    return async_invoke_configs


def fetch_configs(
    client: FunctionGraphClient, scope: Scope, zone: tzinfo, page_size: int, function_urn: str
) -> list[dict[str, Any]]:
    """All config rows of one function; none when it vanished after it was listed."""
    paginator = PageInfoPaginator(page_size=page_size)
    path = f"/v2/{scope.project_id}/fgs/functions/{quote_urn(function_urn)}/async-invoke-configs"
    rows: list[dict[str, Any]] = []
    try:
        what = f"async-invoke configs of {function_urn}"
        for items in client.pages(path, paginator, what):
            rows.extend(
                shape_config(
                    item,
                    function_urn=function_urn,
                    region=scope.region,
                    project_id=scope.project_id,
                    naive_zone=zone,
                )
                for item in identified(items, what)
            )
    except FunctionNotFound:
        logger.info("%s was deleted after it was listed: no configs for it", function_urn)
        return []
    return rows
