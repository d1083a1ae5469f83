"""One whole pipeline run against a sandbox, timed step by step, in a child process.

Rows 1, 3 and 4 measure `pipelines/` as a scheduled run uses it, and need to know where the time
and the memory of a run go: dlt's extract, normalize and load, the SQL models, counting the
changes, and the rest. Nothing in `pipelines/` is patched to find out. Instead `child_run` makes
the calls `pipelines.runner.run()` makes, in the same order and with the same arguments, and
times each from outside:

    with locks.scopes_held(pipeline, scopes):        # the run's scopes, for the whole run
        with locks.turn(pipeline):                   # the warehouse, briefly
            runner.finish_interrupted_run(pipeline, scopes)
            pipeline.run()                           # dlt's state sync, no data
        runner.extract(pipeline, source)             # "extract" (reads the live rows in a turn)
        pipeline.normalize()                         # "normalize"
        with locks.turn(pipeline):                   # DuckDB: loads take turns
            runner.load(pipeline)                    # "load"
            runner.refresh_models(pipeline, started) # "models"
            runner.count_changes(pipeline, load_id, fetched)    # "count_changes"

(`runner.run` without `publish_to`, which the benchmark never sets.) If `runner.run()` gains a
step, it must be added here too, or the run measured stops being the run a scheduler makes.

Every step is timed from outside, with a stopwatch; the wall time covers everything from
`make_pipeline` to the changes being counted. A thread samples the process's RSS every 20 ms, so
the peak can be placed in one of those steps, and `VmHWM` is read when the run is over (before
the benchmark's own row counts).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness import REGION, TABLE, TOKEN

BOTH = (TABLE, "functions")
DLT_STEPS = ("extract", "normalize", "load")


def vm_hwm_mb() -> float:
    """Peak resident set size of this process so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def table_counts(
    query: Callable[[str], list[Any]], load_id: str | None, tables: tuple[str, ...] = (TABLE,)
) -> dict[str, int]:
    """Rows of `tables`: total, live, closed, and written by `load_id`."""
    counts: dict[str, int] = {}
    for table in tables:
        ((total, live, closed, by_load),) = query(
            f"select count(*), count(*) filter (where _dlt_valid_to is null), "
            f"count(*) filter (where _dlt_valid_to is not null), "
            f"count(*) filter (where _dlt_load_id = '{load_id}') from functiongraph.{table}"
        )
        counts.update(
            {
                f"{table}.total": total,
                f"{table}.live": live,
                f"{table}.closed": closed,
                f"{table}.by_load": by_load,
            }
        )
    return counts


class RssSampler(threading.Thread):
    """Samples this process's resident set every 20 ms: the peak, and when it happened."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak_mb, self.peak_at = self.rss_mb(), time.time()
        self.stopped = threading.Event()
        self.samples: list[tuple[float, float]] = []

    def rss_mb(self) -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * self.page / 2**20

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            rss, now = self.rss_mb(), time.time()
            self.samples.append((now, rss))
            if rss > self.peak_mb:
                self.peak_mb, self.peak_at = rss, now

    def at(self, moment: float) -> float:
        """The last sample taken before `moment`."""
        earlier = [rss for taken, rss in self.samples if taken <= moment]
        return earlier[-1] if earlier else float("nan")

    def stop(self) -> None:
        self.stopped.set()
        self.join()


class Stopwatch:
    """Seconds spent in named steps, and when each ran (wall clock, for placing RSS peaks)."""

    def __init__(self, *names: str) -> None:
        self.seconds = dict.fromkeys(names, 0.0)
        self.windows: list[tuple[str, float, float]] = []

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started, wall_started = time.perf_counter(), time.time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.windows.append((name, wall_started, time.time()))


def child_run(spec: dict[str, Any]) -> dict[str, Any]:
    """One whole pipeline run against a sandbox, timed step by step (see the module docstring)."""
    import duckdb

    from pipelines import locks, runner
    from pipelines.functiongraph.config.credentials import FunctionGraphCredentials
    from pipelines.functiongraph.outcome import failures_of, scope_outcomes
    from pipelines.functiongraph.source import functiongraph, source_scopes

    before: dict[str, int] = {}
    if Path(spec["database"]).exists():
        with duckdb.connect(spec["database"], read_only=True) as con:
            before = table_counts(lambda sql: con.execute(sql).fetchall(), None, BOTH)
    sampler = RssSampler()
    baseline_mb = sampler.rss_mb()
    sampler.start()
    started = time.perf_counter()
    pipeline = runner.make_pipeline(
        pipeline_name="fgs_benchmark",
        database=spec["database"],
        pipelines_dir=spec["pipelines_dir"],
    )
    source = functiongraph(
        region=REGION,
        project_id=spec["project_id"],
        endpoint=spec["endpoint"],
        credentials=FunctionGraphCredentials(auth_token=TOKEN),
        max_workers=spec["workers"],
    )  # everything else at its default: the adaptive request rate included
    # the calls of runner.run, in its order (see the module docstring)
    timed = Stopwatch(*DLT_STEPS, "models", "count_changes")
    scopes = source_scopes(source)
    with locks.scopes_held(pipeline, scopes):
        with locks.turn(pipeline):
            runner_started = time.monotonic()
            runner.finish_interrupted_run(pipeline, scopes)
            pipeline.run()
        with timed("extract"):
            runner.extract(pipeline, source)
        with timed("normalize"):
            normalized = pipeline.normalize()
        with locks.turn(pipeline) if locks.loads_take_turns(pipeline) else contextlib.nullcontext():
            with timed("load"):
                info = runner.load(pipeline)
            with locks.turn(pipeline):
                state = pipeline.state.get("sources", {}).get(source.name, {})
                failures, outcomes = failures_of(state), scope_outcomes(state)
                loaded = runner.has_tables(pipeline)
                with timed("models"):
                    summary = (
                        runner.refresh_models(pipeline, runner_started)
                        if loaded
                        else runner.RunSummary(runner.database_path(pipeline), 0, 0)
                    )
                load_id = info.loads_ids[-1] if info.loads_ids else None
                fetched = {scope: outcome["configs"] for scope, outcome in outcomes.items()}
                with timed("count_changes"):
                    runner.count_changes(pipeline, load_id if loaded else None, fetched)
    wall = time.perf_counter() - started
    sampler.stop()
    run_hwm_mb = vm_hwm_mb()
    sent = normalized.row_counts if normalized else {}  # rows handed to dlt, markers included
    windows = timed.windows
    peak_phase = next(
        (name for name, start, end in windows if start <= sampler.peak_at <= end), "other"
    )
    rss_at = {
        f"{name} {edge}": sampler.at(start if edge == "start" else end)
        for name, start, end in windows
        if name in ("extract", "normalize")
        for edge in ("start", "finish")
    }
    with pipeline.sql_client() as client:
        ((load_id,),) = client.execute_sql("select max(load_id) from functiongraph._dlt_loads")
        after = table_counts(lambda sql: list(client.execute_sql(sql)), load_id, BOTH)
        ((memory_limit, threads),) = client.execute_sql(
            "select current_setting('memory_limit'), current_setting('threads')"
        )
    return {
        "wall": wall,
        "steps": {step: timed.seconds[step] for step in DLT_STEPS},
        "models": timed.seconds["models"],
        "count_changes": timed.seconds["count_changes"],
        "before": before,
        "after": after,
        "functions": summary.functions,
        "configs": summary.configs,
        "failures": failures,
        "sent": {table: sent.get(table, 0) for table in BOTH},
        "vm_hwm_mb": run_hwm_mb,
        "baseline_mb": baseline_mb,
        "sampled_peak_mb": sampler.peak_mb,
        "peak_phase": peak_phase,
        "rss_at": rss_at,
        "duckdb_settings": {"memory_limit": str(memory_limit), "threads": int(threads)},
        "pandas_imported": "pandas" in sys.modules,
    }
