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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

import dlt
from dlt.sources import DltResource, DltSource

from pipelines.functiongraph.changes import LiveRows, read_live
from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
from pipelines.functiongraph.config.scopes import (
    GLOBAL_IAM_ENDPOINT,
    configured_scopes,
    discover_scopes,
    region_filter,
)
from pipelines.functiongraph.config.settings import (
    Scope,
    bounded,
    check_endpoint,
    default_iam_endpoint,
    env_key,
)
from pipelines.functiongraph.errors import (
    AuthError,
    ConfigError,
    FunctionGraphError,
    FunctionNotFound,
    PagingError,
)
from pipelines.functiongraph.http.api import (
    CONFIGS_PAGE_MAX,
    FUNCTIONS_PAGE_MAX,
    configs_path,
    functions_path,
)
from pipelines.functiongraph.http.auth import auth_from_credentials
from pipelines.functiongraph.http.client import FunctionGraphClient
from pipelines.functiongraph.http.paging import (
    DEFAULT_MAX_PAGES,
    FunctionListPaginator,
    PageInfoPaginator,
)
from pipelines.functiongraph.http.ratelimit import RateLimiter
from pipelines.functiongraph.http.retries import RetryPolicy
from pipelines.functiongraph.outcome import RunOutcome
from pipelines.functiongraph.retirement import DISPOSITIONS, SCOPE_COLUMN, SCOPE_COLUMN_SCHEMA
from pipelines.functiongraph.shaping.records import (
    CONFIG_COLUMNS,
    FUNCTION_COLUMNS,
    config_identity,
    function_identity,
    shape_config,
    shape_function,
)
from pipelines.functiongraph.shaping.timestamps import DEFAULT_ZONE, parse_zone

logger = logging.getLogger(__name__)

SOURCE_NAME = "functiongraph"
INVENTORY_RESOURCE = "function_inventory"
_SCOPES_ATTRIBUTE = "fgs_scope_keys"
_ARROW_ATTRIBUTE = "fgs_arrow"
TABLES = ("functions", "async_invoke_configs")


@dlt.source(name=SOURCE_NAME, section="functiongraph", max_table_nesting=0)
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
    requests_per_second: float = 0.0,
    max_pages: int = DEFAULT_MAX_PAGES,
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
    pages_cap = bounded("max_pages", max_pages, 1, 1_000_000)
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
    fetches = [
        ScopeFetch(
            scope,
            client_for(scope.endpoint, scope.project_id, iam or default_iam_endpoint(scope.region)),
        )
        for scope in scopes
    ]
    run_id = uuid.uuid4().hex  # ties the failures recorded in source state to this run
    inventory = function_inventory(
        fetches, zone, functions_page, configs_page, pages_cap, workers, run_id
    )
    setattr(inventory, _SCOPES_ATTRIBUTE, [fetch.scope.key for fetch in fetches])
    return inventory


def source_scopes(source: DltSource) -> list[str]:
    """The scope keys ("region/project_id") a source object will fetch, known before it runs."""
    return list(getattr(source.resources[INVENTORY_RESOURCE], _SCOPES_ATTRIBUTE))


@dataclass
class ScopeFetch:
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
                outcome.fail(self.scope.key, f"{exc}; nothing more was requested in {self.scope}")

    def progress(self, functions: int) -> None:
        """Log done/total each time another tenth of the scope's functions is done."""
        with self.lock:
            before, self.done = self.done, self.done + functions
            done, listed = self.done, self.listed
        if not listed or done >= listed or done * 10 // listed > before * 10 // listed:
            logger.info("%s: configs of %d/%s functions fetched", self.scope, done, listed or "?")


@dataclass
class Contribution:
    """What one listed function adds to each table (filled in by a worker thread)."""

    configs: list[dict[str, Any]] | None
    """All its configs, fetched completely; None when they could not be (its rows stay)."""
    function: dict[str, Any] | None
    """Its row; None when it could not be made (then its project must not count as complete,
    or the function would be retired) or when the function is `deleted`."""
    deleted: bool = False
    """It answered 404 after it was listed: its configs are retired, and its row too once the
    listing proves complete."""


@dataclass
class Identities:
    """Which func_urn each table already holds in this run, so every one is loaded once.

    The API can serve an item twice (a config on two pages, a function on two ListFunctions
    pages while offsets shift, one config URN under two functions): the first one served, in
    listing order, is kept, and the drop is noted on a row of the same run. One exception: a
    copy served under a function it does not belong to (its `urn_error` says so) never pushes
    out the copy served under its own function; both are then loaded, and the staging views
    show the owner's (`is_current`) and flag the other (`duplicate_live_row`).
    """

    configs: dict[str, str] = field(default_factory=dict)
    """func_urn of a kept config → the function it was kept under."""
    foreign: set[str] = field(default_factory=set)
    """func_urns kept so far only under a function they do not belong to."""
    functions: set[str] = field(default_factory=set)


def unique_configs(rows: list[dict[str, Any]], kept: Identities) -> tuple[list, list[str]]:
    """`rows` of one function without duplicates, and a note for each config served elsewhere.

    A config served twice by this function keeps its first copy, with a `duplicate_note`; one
    already kept under another function is dropped, and the returned notes say so, unless only a
    foreign copy was kept (see `Identities`).
    """
    first: dict[str, dict[str, Any]] = {}
    copies: dict[str, int] = {}
    elsewhere: list[str] = []
    for row in rows:
        urn = row["func_urn"]
        owner = kept.configs.get(urn)
        owned = row["urn_error"] is None
        if owner is not None and owner != row["function_urn"]:
            if not (owned and urn in kept.foreign):
                elsewhere.append(f"config {urn} was also served here; kept under {owner}")
                continue
            add_note(row, f"also served under {owner}, where it does not belong")
        if urn in first:
            copies[urn] += 1
        else:
            first[urn], copies[urn] = row, 1
    for urn, row in first.items():
        kept.configs[urn] = row["function_urn"]
        if row["urn_error"] is None:
            kept.foreign.discard(urn)
        else:
            kept.foreign.add(urn)
        if copies[urn] > 1:
            add_note(row, f"served {copies[urn]} times by this function; first kept")
    return list(first.values()), sorted(set(elsewhere))


def add_note(row: dict[str, Any], *notes: str) -> None:
    """Append to a row's `duplicate_note`, each distinct note once."""
    if notes:
        kept = row["duplicate_note"].split("; ") if row["duplicate_note"] else []
        row["duplicate_note"] = "; ".join(dict.fromkeys([*kept, *notes]))


def listed_again(urn: str, rows: dict[str, dict[str, Any]], subject: str) -> None:
    """A function ListFunctions served before: its first listing is kept.

    The note goes on the kept row while it is still held (`rows`: this page's and the page
    before); a repeat further away is only logged, because that row has gone to dlt already.
    """
    if urn in rows:
        add_note(rows[urn], "listed again; first listing kept")
    else:
        logger.warning(
            "%s: %s listed again, pages after its first listing; kept once", subject, urn
        )


def function_inventory(
    fetches: list[ScopeFetch],
    zone: tzinfo,
    functions_page_size: int,
    configs_page_size: int,
    max_pages: int,
    workers: int,
    run_id: str,
) -> DltResource:
    """Both tables, scope by scope and page by page of ListFunctions.

    One resource with one thread pool for the whole run: each listed page's functions have their
    configs fetched by at most `max_workers` threads, and the page is finished (configs handed to
    dlt) before the next page is requested. So `max_workers` really bounds the requests in
    flight. A function's row is written once its configs were fetched, so a function deleted in
    between is retired whole; function rows wait one listing page, so a function listed again on
    the next page is noted on the row that is kept. The two tables are declared once as
    variants of this resource: per-item hints would make dlt re-merge the schema for every item.
    """

    arrow = {"on": False}  # set by `use_arrow` before extraction

    def emit(rows: list[dict[str, Any]], table: str) -> Any:
        """One item of `rows` for `table`: an Arrow table where it can be (see `use_arrow`),
        else the dicts."""
        if arrow["on"]:
            from pipelines.functiongraph.shaping.arrow import as_item

            return as_item(rows, table)
        return dlt.mark.with_table_name(rows, table)

    def inventory_one(
        fetch: ScopeFetch, urn: str, item: dict[str, Any], outcome: RunOutcome
    ) -> Any:
        """Never raises: whatever goes wrong fails this function only, keeping its last rows."""
        scope = fetch.scope
        try:
            function = shape_function(
                item, region=scope.region, project_id=scope.project_id, naive_zone=zone
            )
        except Exception as exc:  # one unreadable item fails its function, never the run
            outcome.fail(scope.key, f"function {urn}: its listing item could not be read ({exc})")
            return Contribution(None, None)
        if fetch.auth_failure is not None:
            return Contribution(None, function)
        try:
            configs = fetch_configs(fetch.client, scope, zone, configs_page_size, max_pages, urn)
        except FunctionNotFound:
            logger.info("%s was deleted after it was listed: retiring it", urn)
            return Contribution([], None, deleted=True)
        except AuthError as exc:
            fetch.stop_for_auth(exc, outcome)
            return Contribution(None, function)
        except Exception as exc:  # any other failure fails this function only
            reason = str(exc)
            if not isinstance(exc, FunctionGraphError):  # a bug or a hostile value: name both
                reason = f"async-invoke configs of {urn}: {type(exc).__name__}: {exc}"
            outcome.fail(scope.key, f"{reason}; its last loaded rows are kept")
            return Contribution(None, function)
        return Contribution(configs, function)

    def scope_inventory(
        fetch: ScopeFetch,
        pool: ThreadPoolExecutor,
        outcome: RunOutcome,
        kept: Identities,
        live: LiveRows,
    ) -> Any:
        """One scope's changes; a listing that fails, stops early or contradicts itself retires
        no function (a function whose configs were fetched completely still has its configs
        compared and retired)."""
        scope = fetch.scope
        paginator = FunctionListPaginator(page_size=functions_page_size, max_pages=max_pages)
        subject = f"listing functions of {scope}"
        # Function rows wait one page before they go to dlt: offset paging while functions are
        # created serves the end of one page again at the start of the next, and the kept row
        # must carry a note saying so. Holding one page (not the scope) keeps memory flat.
        held: dict[str, dict[str, Any]] = {}
        identified, listing_failed = True, False
        try:
            path = functions_path(scope.project_id)
            for items in fetch.client.pages(path, paginator, subject):
                fetch.listed = paginator.count
                fresh: list[tuple[str, dict[str, Any]]] = []
                again: list[str] = []
                for item in items:
                    urn = function_identity(item)
                    if urn is None:
                        identified = False
                        logger.warning("%s: an item without a usable func_urn", subject)
                    elif urn in kept.functions:
                        again.append(urn)
                    else:
                        kept.functions.add(urn)
                        fresh.append((urn, item))
                done = list(pool.map(lambda pair: inventory_one(fetch, *pair, outcome), fresh))
                configs: list[dict[str, Any]] = []
                functions: dict[str, dict[str, Any]] = {}
                for (urn, _), contribution in zip(fresh, done, strict=True):
                    elsewhere: list[str] = []
                    if contribution.configs is None:
                        live.keep_configs(scope, urn)
                    else:
                        rows, elsewhere = unique_configs(contribution.configs, kept)
                        outcome.fetched(scope.key, 1, len(rows))
                        configs += live.config_changes(scope, urn, rows)
                    if contribution.function is not None:
                        functions[urn] = contribution.function
                        add_note(contribution.function, *elsewhere)
                    elif not contribution.deleted:
                        identified = False  # an unshaped function row must not be retired
                        live.keep_function(scope, urn)
                for urn in again:
                    listed_again(urn, {**held, **functions}, subject)
                if configs:
                    yield emit(configs, "async_invoke_configs")
                yield from changed_functions(scope, held, live, emit)
                held = functions
                fetch.progress(len(fresh))
        except FunctionGraphError as exc:
            outcome.fail(scope.key, f"{exc}; no function in this project was retired")
            listing_failed = True
        yield from changed_functions(scope, held, live, emit)
        if listing_failed:
            return
        if not paginator.complete:
            outcome.fail(
                scope.key, f"{subject}: {paginator.incompleteness}; no function was retired"
            )
            return
        if not identified:
            outcome.fail(
                scope.key,
                f"{subject}: an item had no usable func_urn or could not be read; "
                "no function of this project was retired",
            )
            return
        logger.info("%s: %d functions listed", scope, paginator.items_seen)
        config_markers, function_markers = live.unlisted(scope)
        if config_markers:
            yield emit(config_markers, "async_invoke_configs")
        if function_markers:
            logger.info("%s: %d functions are no longer listed", scope, len(function_markers))
            yield emit(function_markers, "functions")

    @dlt.resource(name=INVENTORY_RESOURCE)
    def function_inventory() -> Iterator[Any]:
        outcome = RunOutcome(
            dlt.current.source_state(), run_id, [fetch.scope.key for fetch in fetches]
        )
        kept = Identities()
        live = read_live(dlt.current.pipeline(), [fetch.scope for fetch in fetches])
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fgs") as pool:
            for fetch in fetches:
                yield from scope_inventory(fetch, pool, outcome, kept, live)

    for table, columns in (
        ("functions", FUNCTION_COLUMNS),
        ("async_invoke_configs", CONFIG_COLUMNS),
    ):
        function_inventory.apply_hints(
            table_name=table,
            write_disposition=DISPOSITIONS[table],
            columns={**columns, SCOPE_COLUMN: SCOPE_COLUMN_SCHEMA},
            create_table_variant=True,
        )
    setattr(function_inventory, _ARROW_ATTRIBUTE, arrow)
    return function_inventory


def use_arrow(source: DltSource) -> None:
    """Hand dlt each page as an Arrow table instead of dicts: for a load through parquet files,
    dlt then imports the file as written instead of normalizing every row in Python."""
    getattr(source.resources[INVENTORY_RESOURCE], _ARROW_ATTRIBUTE)["on"] = True


def changed_functions(
    scope: Scope,
    rows: dict[str, dict[str, Any]],
    live: LiveRows,
    emit: Callable[[list[dict[str, Any]], str], Any],
) -> Any:
    """The rows among `rows` (one listing page's functions) that the warehouse lacks."""
    changed = live.function_changes(scope, rows.values())
    if changed:
        yield emit(changed, "functions")


def fetch_configs(
    client: FunctionGraphClient,
    scope: Scope,
    zone: tzinfo,
    page_size: int,
    max_pages: int,
    function_urn: str,
) -> list[dict[str, Any]]:
    """All config rows of one function; raises unless the listing is complete.

    Complete means every page arrived, paging ended by a documented rule, the items reached the
    announced count, and every item had a `func_urn` to be stored under.
    """
    paginator = PageInfoPaginator(page_size=page_size, max_pages=max_pages)
    path = configs_path(scope.project_id, function_urn)
    subject = f"async-invoke configs of {function_urn}"
    rows = []
    unidentified = 0
    for items in client.pages(path, paginator, subject):
        for item in items:
            if config_identity(item) is None:
                unidentified += 1
                continue
            rows.append(
                shape_config(
                    item,
                    function_urn=function_urn,
                    region=scope.region,
                    project_id=scope.project_id,
                    naive_zone=zone,
                )
            )
    if not paginator.complete:
        raise PagingError(f"{subject}: {paginator.incompleteness}")
    if unidentified:
        raise PagingError(f"{subject}: {unidentified} item(s) without a func_urn")
    return rows
