"""A run sends dlt only what changed since the warehouse's live rows, and heals a warehouse that
was restored, edited or loaded by an earlier version."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipelines.runner import extract, run
from tests.support.estates import ALPHA, BETA, DELTA, PROJECT, REGION
from tests.support.loader import Loader

SCOPE = f"{REGION}/{PROJECT}"
LIVE = "select func_urn, max_async_retry_attempts from reporting.current_async_invoke_configs"
TABLES = ("functions", "async_invoke_configs")


def sent(loader: Loader) -> dict[str, int]:
    """Rows of our tables that the last run handed to dlt (markers included)."""
    counts = loader.pipeline.last_trace.last_normalize_info.row_counts
    return {table: counts[table] for table in TABLES if counts.get(table)}


def live_rows(loader: Loader) -> list[tuple]:
    return sorted(loader.query(LIVE))


def versions(loader: Loader) -> int:
    ((count,),) = loader.query("select count(*) from functiongraph.async_invoke_configs")
    return count


def retry_more(loader: Loader, func_urn: str, retries: int = 5) -> None:
    served = next(c for c in loader.server.estate.all_configs() if c["func_urn"] == func_urn)
    loader.server.estate.upsert_config({**served, "max_async_retry_attempts": retries})


def test_an_unchanged_run_sends_no_rows(any_loader: Loader) -> None:
    loader = any_loader
    first = loader.run()
    assert sent(loader) == {"functions": 4, "async_invoke_configs": 9}
    again = loader.run()
    assert again.ok and sent(loader) == {}
    assert again.changes[SCOPE] == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 9}
    assert again.configs == first.configs == 9 and again.functions == 4


def test_only_changed_rows_and_markers_are_sent(any_loader: Loader) -> None:
    loader = any_loader
    loader.run()
    retry_more(loader, f"{ALPHA}:latest")
    loader.server.estate.delete_config(f"{DELTA}:v3")
    summary = loader.run()
    assert sent(loader) == {"async_invoke_configs": 2}  # one new version, one `gone` marker
    assert summary.changes[SCOPE] == {"created": 0, "updated": 1, "deleted": 1, "unchanged": 7}
    loader.server.estate.remove_function(BETA)
    summary = loader.run()
    assert sent(loader) == {"functions": 1, "async_invoke_configs": 1}  # markers only
    assert summary.changes[SCOPE] == {"created": 0, "updated": 0, "deleted": 1, "unchanged": 7}
    assert f"{BETA}:latest" not in dict(live_rows(loader))


def test_a_failed_listing_sends_changes_but_retires_no_function(loader: Loader) -> None:
    loader.run()
    retry_more(loader, f"{DELTA}:v1")  # DELTA is on the first page of the listing
    loader.server.estate.remove_function(BETA)  # on the second page, which keeps failing
    loader.server.faults.inject(path_contains="functions?marker=2", status=503, times=5)
    summary = loader.run(max_attempts=2)
    assert not summary.ok
    assert sent(loader) == {"async_invoke_configs": 1}
    assert (f"{DELTA}:v1", 5) in live_rows(loader)
    assert f"{BETA}:latest" in dict(live_rows(loader))  # not proven deleted: kept


def test_rows_removed_by_hand_are_sent_again(loader: Loader) -> None:
    loader.run()
    before = live_rows(loader)
    with loader.pipeline.sql_client() as client:
        client.execute_sql(
            f"delete from functiongraph.async_invoke_configs where func_urn = '{ALPHA}:v1'"
        )
    loader.run()
    assert sent(loader) == {"async_invoke_configs": 1}
    assert live_rows(loader) == before


def test_a_wiped_warehouse_is_loaded_again_whole(any_loader: Loader) -> None:
    """dlt's local state still knows the tables; the comparison reads the warehouse, which has
    none, so everything is sent again."""
    loader = any_loader
    loader.run()
    before = live_rows(loader)
    with loader.pipeline.sql_client() as client:
        for schema in ("reporting", "staging", "functiongraph"):
            client.execute_sql(f"drop schema {schema} cascade")
    summary = loader.run()
    assert summary.ok and sent(loader) == {"functions": 4, "async_invoke_configs": 9}
    assert live_rows(loader) == before


def test_a_restored_warehouse_gets_the_changes_it_lacks(loader: Loader) -> None:
    loader.run()
    database = Path(loader.database)
    backup = database.with_suffix(".backup")
    shutil.copy(database, backup)
    retry_more(loader, f"{ALPHA}:latest")
    loader.run()
    shutil.copy(backup, database)  # restored to the state before the change
    assert (f"{ALPHA}:latest", 3) in live_rows(loader)
    summary = loader.run()
    assert summary.changes[SCOPE]["updated"] == 1
    assert (f"{ALPHA}:latest", 5) in live_rows(loader)


def test_rows_of_an_earlier_version_get_their_fingerprints(any_loader: Loader) -> None:
    """Rows loaded before fingerprints existed have no `row_version` column: the upgrade gives
    live rows the fingerprint of their content, so nothing is rewritten."""
    loader = any_loader
    loader.run()
    retry_more(loader, f"{ALPHA}:latest")
    loader.run()  # 10 versions, one of them retired
    before = live_rows(loader)
    with loader.pipeline.sql_client() as client:
        for schema in ("reporting", "staging"):  # views on the tables are made anew by the run
            client.execute_sql(f"drop schema {schema} cascade")
        for table in TABLES:
            client.execute_sql(f"alter table functiongraph.{table} drop column row_version")
    upgraded = loader.run()
    assert upgraded.ok and live_rows(loader) == before
    assert sent(loader) == {} and versions(loader) == 10  # found unchanged: nothing rewritten
    assert upgraded.changes[SCOPE] == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 9}
    assert loader.query(
        "select count(*) from functiongraph.async_invoke_configs where row_version like 'legacy:%'"
    ) == [(1,)]  # the retired version, never compared again
    retry_more(loader, f"{ALPHA}:latest", retries=6)
    loader.run()
    assert sent(loader) == {"async_invoke_configs": 1} and versions(loader) == 11


def test_the_state_read_happens_after_an_interrupted_load_is_finished(loader: Loader) -> None:
    """A package left behind is loaded first; the comparison then sees its rows."""
    loader.run()
    retry_more(loader, f"{ALPHA}:latest")
    extract(loader.pipeline, loader.source())  # a run that crashed after extracting
    retry_more(loader, f"{ALPHA}:latest", retries=3)  # and back, before the next run
    summary = run(loader.pipeline, loader.source())
    assert summary.ok
    assert (f"{ALPHA}:latest", 3) in live_rows(loader)
