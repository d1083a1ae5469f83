"""The `functiongraph` dlt source: list functions, then fetch each function's async-invoke configs.

Config section `sources.functiongraph`, so every argument below has the environment form
`SOURCES__FUNCTIONGRAPH__<NAME>`. One run covers one or many (region, project) scopes; a scope
that fails (auth, a region not enabled, retries exhausted) is recorded and the others carry on.
All validation happens when the source is created, before any FunctionGraph request, so a bad
configuration never leaves a half-written load behind.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import dlt
from dlt.sources import DltResource

from pipelines.functiongraph.auth import auth_from_credentials
from pipelines.functiongraph.client import FunctionGraphClient
from pipelines.functiongraph.credentials import FunctionGraphCredentials
from pipelines.functiongraph.errors import (
    AuthError,
    ConfigError,
    FunctionGraphError,
    FunctionNotFound,
    PagingError,
)
from pipelines.functiongraph.paging import FunctionListPaginator, PageInfoPaginator
from pipelines.functiongraph.ratelimit import RateLimiter
from pipelines.functiongraph.records import (
    CONFIG_COLUMNS,
    FUNCTION_COLUMNS,
    shape_config,
    shape_function,
)
from pipelines.functiongraph.retries import RetryPolicy
from pipelines.functiongraph.scopes import (
    GLOBAL_IAM_ENDPOINT,
    configured_scopes,
    discover_scopes,
    region_filter,
)
from pipelines.functiongraph.settings import (
    Scope,
    bounded,
    check_endpoint,
    default_iam_endpoint,
    env_key,
)
from pipelines.functiongraph.snapshots import (
    CONFIGS_DISPOSITION,
    FUNCTION_COMPLETE,
    FUNCTION_INCOMPLETE,
    FUNCTIONS_DISPOSITION,
    PROJECT_COMPLETE,
    SCOPE_COLUMN,
    SCOPE_COLUMN_SCHEMA,
    RunOutcome,
    config_marker,
    function_marker,
)
from pipelines.functiongraph.timestamps import DEFAULT_ZONE, parse_zone
from pipelines.functiongraph.urns import quote_urn

logger = logging.getLogger(__name__)

FUNCTIONS_PAGE_MAX = 400
CONFIGS_PAGE_MAX = 100
INVENTORY_RESOURCE = "function_inventory"
TABLES = ("functions", "async_invoke_configs")


@dlt.source(name="functiongraph", section="functiongraph", max_table_nesting=0)
def functiongraph(
    region: str | None = None,
    project_id: str | None = None,
    endpoint: str | None = None,
    projects: Any = None,
    regions: Any = None,
    iam_endpoint: str | None = None,
    credentials: FunctionGraphCredentials = dlt.secrets.value,
    naive_timezone: str = DEFAULT_ZONE,
    functions_page_size: int = FUNCTIONS_PAGE_MAX,
    configs_page_size: int = CONFIGS_PAGE_MAX,
    max_attempts: int = 5,
    request_timeout: float = 30.0,
    backoff_base: float = 0.5,
    backoff_max: float = 30.0,
    max_workers: int = 8,
    requests_per_second: float = 20.0,
) -> Any:
    """FunctionGraph functions and their async-invoke configs, for every configured scope."""
    credentials = credentials or FunctionGraphCredentials()
    credentials.kind()  # fail on credentials before anything else
    try:
        zone = parse_zone(naive_timezone)
    except ValueError as exc:
        raise ConfigError(f"{env_key('naive_timezone')}: {exc}") from None
    timeout = bounded("request_timeout", request_timeout, 0.001, 600, float)
    retry = RetryPolicy(
        max_attempts=bounded("max_attempts", max_attempts, 1, 100),
        backoff_base=bounded("backoff_base", backoff_base, 0, 600, float),
        backoff_max=bounded("backoff_max", backoff_max, 0, 3600, float),
    )
    limiter = RateLimiter(bounded("requests_per_second", requests_per_second, 0, 10000, float))
    workers = bounded("max_workers", max_workers, 1, 64)
    functions_page = bounded("functions_page_size", functions_page_size, 1, FUNCTIONS_PAGE_MAX)
    configs_page = bounded("configs_page_size", configs_page_size, 1, CONFIGS_PAGE_MAX)
    iam = check_endpoint(iam_endpoint, "iam_endpoint") if iam_endpoint else None

    def client_for(base_url: str, project: str | None, iam_base: str) -> FunctionGraphClient:
        auth = auth_from_credentials(credentials, project, iam_base, timeout=timeout, retry=retry)
        return FunctionGraphClient(
            base_url, auth, timeout=timeout, retry=retry, rate_limiter=limiter
        )

    scopes = configured_scopes(region, project_id, endpoint, projects)
    if scopes is None and credentials.kind() != "access_key":
        raise ConfigError(
            f"{env_key('project_id')} is not set: set it (with {env_key('region')}), list "
            f"{env_key('projects')}, or use AK/SK credentials to discover the projects"
        )
    if scopes is None:
        wanted = region_filter(region, regions)
        single_region = next(iter(wanted)) if wanted and len(wanted) == 1 else None
        discovery_iam = iam or (
            default_iam_endpoint(single_region) if single_region else GLOBAL_IAM_ENDPOINT
        )
        scopes = discover_scopes(
            client_for(discovery_iam, None, discovery_iam),
            wanted,
            check_endpoint(endpoint) if endpoint else None,
        )
    runs = [
        ScopeRun(
            scope,
            client_for(scope.endpoint, scope.project_id, iam or default_iam_endpoint(scope.region)),
        )
        for scope in scopes
    ]
    run_id = uuid.uuid4().hex  # ties the failures recorded in source state to this run
    return function_inventory(runs, zone, functions_page, configs_page, workers, run_id)


@dataclass
class ScopeRun:
    """One scope's client and progress during a run; shared by the listing and the workers."""

    scope: Scope
    client: FunctionGraphClient
    listed: int | None = None
    done: int = 0
    auth_failure: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop_for_auth(self, exc: AuthError, outcome: RunOutcome) -> None:
        """The first auth failure stops the scope; later functions send no request at all."""
        with self.lock:
            if self.auth_failure is None:
                self.auth_failure = str(exc)
                outcome.fail(f"{exc}; nothing more was requested in {self.scope}")

    def progress(self, functions: int) -> None:
        """Log done/total each time another tenth of the scope's functions is done."""
        with self.lock:
            before, self.done = self.done, self.done + functions
            done, listed = self.done, self.listed
        if not listed or done >= listed or done * 10 // listed > before * 10 // listed:
            logger.info("%s: configs of %d/%s functions fetched", self.scope, done, listed or "?")


def identified(items: list[Any], what: str) -> Iterator[dict[str, Any]]:
    """Items that carry a `func_urn`; without one an item has no identity to store it under."""
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("func_urn"), str) and item["func_urn"]:
            yield item
        else:
            logger.warning("%s: skipping an item without func_urn: %s", what, str(item)[:200])


class Contribution:
    """What one listed function adds to each table (filled in by a worker thread)."""

    __slots__ = ("configs", "functions")

    def __init__(self, configs: list[dict[str, Any]], functions: list[dict[str, Any]]) -> None:
        self.configs = configs
        self.functions = functions


def function_inventory(
    runs: list[ScopeRun],
    zone: tzinfo,
    functions_page_size: int,
    configs_page_size: int,
    workers: int,
    run_id: str,
) -> DltResource:
    """Both tables, scope by scope and page by page of ListFunctions.

    One resource with one thread pool for the whole run: each listed page's functions have their
    configs fetched by at most `max_workers` threads, and the page is finished (and handed to
    dlt, one item per table) before the next page is requested. So `max_workers` really bounds
    the requests in flight, and memory holds one page, not the estate. A function's row is
    written once its configs were fetched, so a function deleted in between is retired whole.
    The two tables are declared once as variants of this resource: per-item hints would make dlt
    re-merge the schema for every item.
    """

    def inventory_one(run: ScopeRun, item: dict[str, Any], outcome: RunOutcome) -> Contribution:
        scope, urn = run.scope, item["func_urn"]
        what = f"async-invoke configs of {urn}"
        function = shape_function(
            item, region=scope.region, project_id=scope.project_id, naive_zone=zone
        )
        incomplete = config_marker(FUNCTION_INCOMPLETE, scope.region, scope.project_id, urn)
        if run.auth_failure is not None:
            return Contribution([incomplete], [function])
        try:
            configs = fetch_configs(run.client, scope, zone, configs_page_size, urn)
        except FunctionNotFound:
            # Gone since it was listed: retire its configs, and leave its function row out so
            # that the complete project retires it too.
            logger.info("%s was deleted after it was listed: retiring it", urn)
            return Contribution(
                [config_marker(FUNCTION_COMPLETE, scope.region, scope.project_id, urn)], []
            )
        except AuthError as exc:
            run.stop_for_auth(exc, outcome)
            return Contribution([incomplete], [function])
        except (FunctionGraphError, ValueError) as exc:
            reason = str(exc) if isinstance(exc, FunctionGraphError) else f"{what}: {exc}"
            outcome.fail(f"{reason}; its last loaded rows are kept")
            return Contribution([incomplete], [function])
        marker = config_marker(FUNCTION_COMPLETE, scope.region, scope.project_id, urn)
        return Contribution([*configs, marker], [function])

    def tables(configs: list[dict[str, Any]], functions: list[dict[str, Any]]) -> Iterator[Any]:
        if configs:
            yield dlt.mark.with_table_name(configs, "async_invoke_configs")
        if functions:
            yield dlt.mark.with_table_name(functions, "functions")

    def scope_inventory(run: ScopeRun, pool: ThreadPoolExecutor, outcome: RunOutcome) -> Any:
        """One scope; a listing that fails or stops early is recorded and retires nothing."""
        scope = run.scope
        paginator = FunctionListPaginator(page_size=functions_page_size)
        what = f"listing functions of {scope}"
        try:
            path = f"/v2/{scope.project_id}/fgs/functions"
            for items in run.client.pages(path, paginator, what):
                run.listed = paginator.count
                listed = list(identified(items, what))
                done = list(pool.map(lambda item: inventory_one(run, item, outcome), listed))
                yield from tables(
                    [row for contribution in done for row in contribution.configs],
                    [row for contribution in done for row in contribution.functions],
                )
                run.progress(len(listed))
        except FunctionGraphError as exc:
            outcome.fail(f"{exc}; nothing in this project was retired")
            return
        if not paginator.complete:
            outcome.fail(f"{what}: paging stopped early ({paginator.stop_reason})")
            return
        logger.info("%s: %d functions listed", scope, paginator.items_seen)
        yield from tables(
            [config_marker(PROJECT_COMPLETE, scope.region, scope.project_id)],
            [function_marker(PROJECT_COMPLETE, scope.region, scope.project_id)],
        )

    @dlt.resource(name=INVENTORY_RESOURCE)
    def function_inventory() -> Iterator[Any]:
        outcome = RunOutcome(dlt.current.source_state(), run_id)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fgs") as pool:
            for run in runs:
                yield from scope_inventory(run, pool, outcome)

    for table, disposition, columns in (
        ("functions", FUNCTIONS_DISPOSITION, FUNCTION_COLUMNS),
        ("async_invoke_configs", CONFIGS_DISPOSITION, CONFIG_COLUMNS),
    ):
        function_inventory.apply_hints(
            table_name=table,
            write_disposition=disposition,
            columns={**columns, SCOPE_COLUMN: SCOPE_COLUMN_SCHEMA},
            create_table_variant=True,
        )
    return function_inventory


def fetch_configs(
    client: FunctionGraphClient, scope: Scope, zone: tzinfo, page_size: int, function_urn: str
) -> list[dict[str, Any]]:
    """All config rows of one function; raises unless every page arrived."""
    paginator = PageInfoPaginator(page_size=page_size)
    path = f"/v2/{scope.project_id}/fgs/functions/{quote_urn(function_urn)}/async-invoke-configs"
    what = f"async-invoke configs of {function_urn}"
    rows = [
        shape_config(
            item,
            function_urn=function_urn,
            region=scope.region,
            project_id=scope.project_id,
            naive_zone=zone,
        )
        for items in client.pages(path, paginator, what)
        for item in identified(items, what)
    ]
    if not paginator.complete:
        raise PagingError(f"{what}: paging stopped early ({paginator.stop_reason})")
    return rows
