"""Benchmarks of the FunctionGraph connector against the sandbox, printed as one table.

    .venv/bin/python benchmarks/benchmark.py            # full run (several minutes, 2 cores)
    .venv/bin/python benchmarks/benchmark.py --quick    # smoke run with small, labelled sizes
    .venv/bin/python benchmarks/benchmark.py --only 2   # one row (repeat --only for more)

Rows (every value is measured in the same invocation):

1. fan-out: a run against a sandbox with 50 ms latency, 16 workers, no rate limit: wall and
   extract time against the ideal `requests x latency / workers`, the most requests in flight,
   and the serial ratio.
2. shaping + load: shaped config rows loaded by dlt the way the source yields them (table
   variants declared once, one item per listing page, parquet), beside a plain DuckDB insert of
   the same rows, and an experiment that yields Arrow tables (with scd2 checks).
3. unchanged re-run: a second run over the same estate: rows rewritten, wall vs extract time.
4. peak memory of a whole run at two sizes.

Every "as is" row measures `pipelines/` unchanged. Row 4 adds one experiment, applied *inside
the benchmark's child process only* (by monkeypatching; `pipelines/` is not edited):
experiment C (`patch_duckdb_limits`), DuckDB `memory_limit` and `threads` for the pipeline's
DuckDB.

Every sandbox runs in its own process (its threads never share the GIL with the pipeline being
measured) and listens on 127.0.0.1 only; every pipeline run is a child process too, so its peak
RSS is its own (`os.wait4`). Temporary folders are removed at the end, also on errors.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REGION = "cn-north-4"
TOKEN = "benchmark-token-5e1f"
TABLE = "async_invoke_configs"
ESTATE_BLOCK = 4000
"""`generate_estate` is quadratic in functions (every FunctionGraph destination scans the whole
function list); larger estates repeat blocks of this size under new function names."""
PAGE_FUNCTIONS = 400
"""Functions per listing page (the source's default `functions_page_size`)."""
LATENCY_S = 0.05
SERIAL_LIMIT_S = 120.0
CHILD_TIMEOUT_S = 1500.0
RESULT_PREFIX = "BENCHMARK-RESULT "
BOTH = (TABLE, "functions")
AS_IS = "as_is"
LIMITED = "duckdb_limits"
DUCKDB_LIMITS = {"memory_limit": "100MB", "threads": 1}
"""DuckDB settings of experiment C (`DuckDbCredentials(global_config=...)`)."""


@dataclass(frozen=True)
class Sizes:
    label: str
    fanout_functions: int
    load_functions: int
    rerun_functions: int
    memory_functions: tuple[int, int]


FULL = Sizes("full", 2000, 40000, 2000, (4000, 40000))
QUICK = Sizes("quick (small sizes, smoke run only)", 100, 1000, 100, (100, 1000))


# -- estates ---------------------------------------------------------------------------------


def _renamed(item: dict[str, Any], old_urn: str, new_urn: str) -> dict[str, Any]:
    """A deep copy of a config item of `old_urn` that belongs to `new_urn` instead."""
    item = copy.deepcopy(item)
    served = item.get("func_urn")
    if isinstance(served, str) and served.startswith(old_urn + ":"):
        item["func_urn"] = new_urn + served[len(old_urn) :]
    return item


def build_estate(functions: int) -> Any:
    """`generate_estate(configs_per_function=(3, 3))` with exactly 3 configs per function.

    The generator leaves about one function in eight without configs; those get copies of a
    donor's three configs. Above `ESTATE_BLOCK` functions the block is repeated under new names.
    """
    from pipelines.sandbox import generate_estate

    block = min(functions, ESTATE_BLOCK)
    estate = generate_estate(functions_per_project=block, configs_per_function=(3, 3))
    (project,) = estate.projects.values()
    urns = sorted(project.functions)
    donors = [urn for urn in urns if len(project.configs.get(urn) or []) == 3]
    empty = [urn for urn in urns if not project.configs.get(urn)]
    for index, urn in enumerate(empty):
        donor = donors[index % len(donors)]
        estate.set_configs(urn, [_renamed(item, donor, urn) for item in project.configs[donor]])
    base = [(urn, project.functions[urn], project.configs.get(urn) or []) for urn in urns]
    count, round_ = block, 1
    while count < functions:
        for urn, item, configs in base[: functions - count]:
            parts = urn.split(":")
            name = f"{parts[6]}-r{round_}"
            new_urn = ":".join([*parts[:6], name])
            new_item = {**copy.deepcopy(item), "func_urn": new_urn, "func_name": name}
            new_configs = [_renamed(config, urn, new_urn) for config in configs]
            estate.add_function(project.project_id, new_item, new_configs)
        count = len(project.functions)
        round_ += 1
    return estate


def serve_sandbox(functions: int, token: str) -> None:
    """Body of the sandbox process: serve an estate on 127.0.0.1 until stdin closes.

    Prints `READY url project_id functions configs`, then answers one line per command on
    stdin: `latency SECONDS`, `reset` (forget the requests seen), `count` (API requests seen,
    how many were not 2xx, and the most that were being answered at the same time).
    """
    from pipelines.sandbox import SandboxServer

    estate = build_estate(functions)
    (project,) = estate.projects.values()
    configs = sum(len(items) for items in project.configs.values())
    server = SandboxServer(estate, host="127.0.0.1", port=0, tokens=(token,))
    in_flight = {"now": 0, "peak": 0}
    lock = threading.Lock()
    respond = server.respond

    def counted_respond(*args: Any, **kwargs: Any) -> Any:
        """Counts requests being answered at the same time (latency included)."""
        with lock:
            in_flight["now"] += 1
            in_flight["peak"] = max(in_flight["peak"], in_flight["now"])
        try:
            return respond(*args, **kwargs)
        finally:
            with lock:
                in_flight["now"] -= 1

    server.respond = counted_respond  # type: ignore[method-assign]
    server.start()
    print("READY", server.url, project.project_id, len(project.functions), configs, flush=True)
    try:
        for line in sys.stdin:
            command, *args = line.split()
            if command == "latency":
                server.faults.latency_s = float(args[0])
                print("ok", flush=True)
            elif command == "reset":
                server.clear_requests_seen()
                with lock:
                    in_flight["peak"] = 0
                print("ok", flush=True)
            elif command == "count":
                seen = [r for r in server.requests_seen if r.path.startswith("/v2/")]
                failed = sum(1 for r in seen if not 200 <= r.status < 300)
                print(len(seen), failed, in_flight["peak"], flush=True)
            else:
                print("error unknown command", flush=True)
    finally:
        server.stop()


SANDBOX_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import benchmark; benchmark.serve_sandbox(int(sys.argv[2]), sys.argv[3])"
)


def child_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SOURCES__", "DESTINATION__", "NORMALIZE__", "EXTRACT__"))
    }
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["PYTHONHASHSEED"] = "0"
    return env


class Sandbox:
    """A sandbox server in its own process, driven through its stdin/stdout."""

    def __init__(self, functions: int, workdir: Path) -> None:
        self._log = (workdir / f"sandbox-{functions}.log").open("w")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", SANDBOX_CODE, str(BENCH_DIR), str(functions), TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=workdir,
            env=child_env(),
        )
        self._watchdog = threading.Timer(CHILD_TIMEOUT_S * 2, self._proc.kill)
        self._watchdog.daemon = True
        self._watchdog.start()
        words = self._read().split()
        if not words or words[0] != "READY":
            self.close()
            raise RuntimeError(f"the sandbox did not start; see {self._log.name}")
        self.url, self.project_id = words[1], words[2]
        self.functions, self.configs = int(words[3]), int(words[4])

    def _read(self) -> str:
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().strip()

    def command(self, line: str) -> str:
        assert self._proc.stdin is not None
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()
        return self._read()

    def set_latency(self, seconds: float) -> None:
        self.command(f"latency {seconds}")

    def reset(self) -> None:
        self.command("reset")

    def count(self) -> tuple[int, int, int]:
        """API requests seen, how many were not 2xx, and the most answered at the same time."""
        seen, failed, peak = self.command("count").split()
        return int(seen), int(failed), int(peak)

    def close(self) -> None:
        self._watchdog.cancel()
        if self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._log.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# -- child processes -------------------------------------------------------------------------


def run_child(mode: str, spec: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run `benchmark.py --child MODE SPEC`; its result, plus `maxrss_mb` from `os.wait4`."""
    out_path = workdir / f"child-{mode}-{time.monotonic_ns()}.out"
    err_path = out_path.with_suffix(".err")
    command = [sys.executable, str(Path(__file__).resolve()), "--child", mode, json.dumps(spec)]
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=workdir, env=child_env())
        watchdog = threading.Timer(CHILD_TIMEOUT_S, proc.kill)
        watchdog.daemon = True
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: do not leave the child running
            proc.kill()
            os.wait4(proc.pid, 0)
            raise
        finally:
            watchdog.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [
        line[len(RESULT_PREFIX) :]
        for line in out_path.read_text().splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(err_path.read_text().splitlines()[-25:])
        raise RuntimeError(f"child {mode} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1])
    result["maxrss_mb"] = usage.ru_maxrss / 1024  # kilobytes on Linux
    return result


def vm_hwm_mb() -> float:
    """Peak resident set size of this process so far (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def patch_duckdb_limits() -> None:
    """Experiment C, applied in this process only: `make_pipeline` gets
    `DuckDbCredentials(database, global_config=DUCKDB_LIMITS)` instead of the bare path."""
    import dlt
    from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

    duckdb_factory = dlt.destinations.duckdb

    def limited(credentials: Any = None, **kwargs: Any) -> Any:
        return duckdb_factory(
            credentials=DuckDbCredentials(credentials, global_config=dict(DUCKDB_LIMITS)),
            **kwargs,
        )

    dlt.destinations.duckdb = limited  # type: ignore[assignment]


def _table_counts(
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


def child_run(spec: dict[str, Any]) -> dict[str, Any]:
    """One whole pipeline run (`pipelines.runner.run`) against a sandbox, timed."""
    import duckdb

    from pipelines import runner
    from pipelines.functiongraph.config.credentials import FunctionGraphCredentials

    if spec["variant"] == LIMITED:
        patch_duckdb_limits()
    from pipelines.functiongraph.source import functiongraph

    before: dict[str, int] = {}
    if Path(spec["database"]).exists():
        with duckdb.connect(spec["database"], read_only=True) as con:
            before = _table_counts(lambda sql: con.execute(sql).fetchall(), None, BOTH)
    timings: dict[str, float] = {"models": 0.0, "count_changes": 0.0}
    windows: list[tuple[str, float, float]] = []

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started, wall_started = time.perf_counter(), time.time()
            try:
                return function(*args, **kwargs)
            finally:
                timings[name] += time.perf_counter() - started
                windows.append((name, wall_started, time.time()))

        return wrapper

    runner.refresh_models = timed("models", runner.refresh_models)  # type: ignore[assignment]
    runner.count_changes = timed("count_changes", runner.count_changes)  # type: ignore[assignment]
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
        requests_per_second=0,
    )
    summary = runner.run(pipeline, source)
    wall = time.perf_counter() - started
    sampler.stop()
    steps = {
        step.step: (step.finished_at - step.started_at).total_seconds()
        for step in pipeline.last_trace.steps
    }
    windows += [
        (step.step, step.started_at.timestamp(), step.finished_at.timestamp())
        for step in pipeline.last_trace.steps
        if step.step in ("extract", "normalize", "load")
    ]
    peak_phase = next(
        (name for name, start, end in windows if start <= sampler.peak_at <= end), "other"
    )
    run_hwm_mb = vm_hwm_mb()
    rss_at = {
        f"{step.step} {edge}": sampler.at(getattr(step, f"{edge}ed_at").timestamp())
        for step in pipeline.last_trace.steps
        if step.step in ("extract", "normalize")
        for edge in ("start", "finish")
    }
    with pipeline.sql_client() as client:
        ((load_id,),) = client.execute_sql("select max(load_id) from functiongraph._dlt_loads")
        after = _table_counts(lambda sql: list(client.execute_sql(sql)), load_id, BOTH)
    return {
        "wall": wall,
        "steps": steps,
        **timings,
        "before": before,
        "after": after,
        "functions": summary.functions,
        "configs": summary.configs,
        "failures": summary.failures,
        "vm_hwm_mb": run_hwm_mb,
        "baseline_mb": baseline_mb,
        "sampled_peak_mb": sampler.peak_mb,
        "peak_phase": peak_phase,
        "rss_at": rss_at,
    }


def child_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Row 2: shaping, dlt loads (dicts and Arrow), a plain DuckDB insert, scd2 checks."""
    # dlt adds `_dlt_load_id` to Arrow items only when asked; the tables document it as not null
    os.environ["NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID"] = "true"
    import dlt
    import duckdb
    import pyarrow as pa
    from dlt.common import json as dlt_json
    from dlt.common.normalizers.json.helpers import get_row_hash

    from pipelines.functiongraph.retirement import (
        CONFIGS_DISPOSITION,
        FUNCTION_COMPLETE,
        PROJECT_COMPLETE,
        SCOPE_COLUMN,
        SCOPE_COLUMN_SCHEMA,
        config_marker,
    )
    from pipelines.functiongraph.shaping.records import CONFIG_COLUMNS, shape_config
    from pipelines.functiongraph.shaping.timestamps import parse_zone

    work = Path(spec["workdir"])
    estate = build_estate(spec["functions"])
    (project,) = estate.projects.values()
    region, project_id = project.region, project.project_id
    pages = [
        (urn, copy.deepcopy(project.configs.get(urn) or [])) for urn in sorted(project.functions)
    ]
    del estate, project
    configs = sum(len(items) for _, items in pages)
    zone = parse_zone("+08:00")
    columns = {**CONFIG_COLUMNS, SCOPE_COLUMN: SCOPE_COLUMN_SCHEMA}
    hints = dlt.mark.make_hints(
        table_name=TABLE, write_disposition=CONFIGS_DISPOSITION, columns=columns
    )
    result: dict[str, Any] = {"configs": configs, "functions": len(pages)}

    started = time.perf_counter()
    shaped = [
        (
            urn,
            [
                shape_config(
                    item, function_urn=urn, region=region, project_id=project_id, naive_zone=zone
                )
                for item in items
            ],
        )
        for urn, items in pages
    ]
    result["shape_s"] = time.perf_counter() - started

    def marker(urn: str | None = None) -> dict[str, Any]:
        if urn is None:
            return config_marker(PROJECT_COMPLETE, region, project_id)
        return config_marker(FUNCTION_COMPLETE, region, project_id, urn)

    def make_source(items: Callable[[], Iterator[Any]], declared: bool) -> Any:
        @dlt.source(name="functiongraph", max_table_nesting=0)
        def functiongraph() -> Any:
            resource = dlt.resource(items, name="function_inventory")
            if declared:
                resource.apply_hints(
                    table_name=TABLE,
                    write_disposition=CONFIGS_DISPOSITION,
                    columns=columns,
                    file_format="parquet",
                    create_table_variant=True,
                )
            return resource

        return functiongraph()

    def load(name: str, items: Callable[[], Iterator[Any]], declared: bool) -> dict[str, Any]:
        pipeline = dlt.pipeline(
            pipeline_name=name,
            destination=dlt.destinations.duckdb(credentials=str(work / f"{name}.duckdb")),
            dataset_name="functiongraph",
            pipelines_dir=str(work / "dlt"),
        )
        before = None
        if (work / f"{name}.duckdb").exists():
            with pipeline.sql_client() as client:
                before = _table_counts(lambda sql: list(client.execute_sql(sql)), None)
        started = time.perf_counter()
        pipeline.run(make_source(items, declared), loader_file_format="parquet")
        seconds = time.perf_counter() - started
        steps = {
            step.step: (step.finished_at - step.started_at).total_seconds()
            for step in pipeline.last_trace.steps
        }
        with pipeline.sql_client() as client:
            ((load_id,),) = client.execute_sql("select max(load_id) from _dlt_loads")
            after = _table_counts(lambda sql: list(client.execute_sql(sql)), load_id)
        return {"seconds": seconds, "steps": steps, "before": before, "after": after}

    # (a) dicts, as source.function_inventory yields them: the table variant declared once, one
    # `with_table_name` item per listing page (its configs and its functions' markers)
    def declared_items() -> Iterator[Any]:
        for start in range(0, len(shaped), PAGE_FUNCTIONS):
            page = shaped[start : start + PAGE_FUNCTIONS]
            yield dlt.mark.with_table_name(
                [row for urn, rows in page for row in [*rows, marker(urn)]], TABLE
            )
        yield dlt.mark.with_table_name([marker()], TABLE)

    result["declared"] = load("declared", declared_items, declared=True)

    # (b) plain DuckDB: Arrow table from the shaped rows, CREATE TABLE AS SELECT
    started = time.perf_counter()
    arrow_table = pa.Table.from_pylist([row for _, rows in shaped for row in rows])
    from_pylist_s = time.perf_counter() - started
    with duckdb.connect(str(work / "plain.duckdb")) as con:
        con.register("arrow_table", arrow_table)
        con.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM arrow_table")
        ((plain_rows,),) = con.execute(f"select count(*) from {TABLE}").fetchall()
    result["plain"] = {
        "seconds": time.perf_counter() - started,
        "from_pylist_s": from_pylist_s,
        "rows": plain_rows,
    }
    del arrow_table

    # (c) experiment: Arrow tables with an explicit schema, one per listing page, same hints
    arrow_types = {
        "text": pa.string(),
        "bigint": pa.int64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us", tz="UTC"),
    }
    fields = [
        pa.field(name, arrow_types[str(column["data_type"])], nullable=bool(column["nullable"]))
        for name, column in columns.items()
    ]

    hash_seconds = [0.0]

    def arrow_pages(hashed: bool, change: bool = False) -> list[Any]:
        schema = pa.schema(
            [*fields, pa.field("_dlt_id", pa.string(), nullable=False)] if hashed else fields
        )
        tables = []
        pending_change = change
        for start in range(0, len(shaped), PAGE_FUNCTIONS):
            page: list[dict[str, Any]] = []
            for urn, rows in shaped[start : start + PAGE_FUNCTIONS]:
                if pending_change and rows:
                    first = dict(rows[0])
                    first["max_async_retry_attempts"] = (first["max_async_retry_attempts"] or 0) + 1
                    rows = [first, *rows[1:]]
                    pending_change = False
                page += rows
                page.append(marker(urn))
            if start + PAGE_FUNCTIONS >= len(shaped):
                page.append(marker())
            if hashed:
                # The hash dlt gives a dict row under scd2: its normalizer hashes the row as read
                # back from the typed-JSON extract file (timestamps as marked strings).
                hashing = time.perf_counter()
                page = [
                    {**row, "_dlt_id": get_row_hash(dlt_json.loadb(dlt_json.typed_dumpb(row)))}
                    for row in page
                ]
                hash_seconds[0] += time.perf_counter() - hashing
            tables.append(pa.Table.from_pylist(page, schema=schema))
        return tables

    def arrow_items(tables: list[Any]) -> Callable[[], Iterator[Any]]:
        def items() -> Iterator[Any]:
            for table in tables:
                yield dlt.mark.with_hints(table, hints, create_table_variant=True)

        return items

    tables = arrow_pages(hashed=False)
    try:
        load("arrow_plain", arrow_items(tables), declared=False)
        result["arrow_plain"] = {"error": None}
    except Exception as exc:  # the finding is the failure itself
        reason = exc
        while getattr(reason, "exception", None) is not None:
            reason = reason.exception  # type: ignore[attr-defined]
        text = " ".join(str(reason).split())
        result["arrow_plain"] = {"error": f"{type(reason).__name__}: {text[:160]}"}
    del tables

    started = time.perf_counter()
    tables = arrow_pages(hashed=True)
    build_s = time.perf_counter() - started
    result["arrow"] = load("arrow", arrow_items(tables), declared=False)
    result["arrow"]["build_s"] = build_s
    result["arrow"]["hash_s"] = hash_seconds[0]
    result["arrow_same"] = load("arrow", arrow_items(tables), declared=False)
    # stored values: the dict-loaded and the Arrow-loaded tables must hold the same live rows
    names = ", ".join(f'"{name}"' for name in CONFIG_COLUMNS)
    with duckdb.connect() as con:
        con.execute(f"ATTACH '{work / 'declared.duckdb'}' AS d (READ_ONLY)")
        con.execute(f"ATTACH '{work / 'arrow.duckdb'}' AS a (READ_ONLY)")
        live = f"from {{}}.functiongraph.{TABLE} where _dlt_valid_to is null"
        differing = 0
        for left, right in (("d", "a"), ("a", "d")):
            ((count,),) = con.execute(
                f"select count(*) from (select {names} {live.format(left)} "
                f"except select {names} {live.format(right)})"
            ).fetchall()
            differing += count
        ((same_ids,),) = con.execute(
            f"select count(*) from d.functiongraph.{TABLE} join a.functiongraph.{TABLE} "
            f"using (_dlt_id)"
        ).fetchall()
    result["arrow_vs_dict"] = {"differing_rows": differing, "same_dlt_id": same_ids}
    changed_first = arrow_pages(hashed=True, change=True)[:1]
    result["arrow_changed"] = load("arrow", arrow_items(changed_first + tables[1:]), declared=False)
    # switching an existing dict-loaded pipeline to Arrow items must not create versions
    result["arrow_on_dict"] = load("declared", arrow_items(tables), declared=False)
    return result


def child_main(mode: str, spec_text: str) -> None:
    spec = json.loads(spec_text)
    result = child_run(spec) if mode == "run" else child_load(spec)
    print(RESULT_PREFIX + json.dumps(result), flush=True)


# -- the table -------------------------------------------------------------------------------


@dataclass
class Row:
    row: str
    measure: str
    value: str
    target: str = "-"
    result: str = "info"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: str) -> None:
        self.rows.append(Row(*args))


def judged(value: float, target: float, upper: bool, unit: str = "") -> str:
    """`met`, or `MISSED by ...` with the absolute and relative distance to the target."""
    if value != value:  # NaN
        return "not measured"
    if (value <= target) if upper else (value >= target):
        return "met"
    gap = value - target if upper else target - value
    factor = value / target if upper else (value / target if target else 0.0)
    text = f"{gap:,.2f}{unit}" if abs(gap) < 100 else f"{gap:,.0f}{unit}"
    return f"MISSED by {text} ({factor:.2f}x the target)"


def fmt_rate(rows: float, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s" if seconds > 0 else "n/a"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def extract_s(result: dict[str, Any]) -> float:
    return float(result["steps"].get("extract", float("nan")))


def breakdown(result: dict[str, Any]) -> str:
    steps = result["steps"]
    rest = result["wall"] - sum(steps.get(k, 0.0) for k in ("extract", "normalize", "load"))
    return (
        f"extract {steps.get('extract', 0):.1f} + normalize {steps.get('normalize', 0):.1f} + "
        f"load {steps.get('load', 0):.1f} + models {result['models']:.1f} + "
        f"count_changes {result['count_changes']:.1f} + other "
        f"{rest - result['models'] - result['count_changes']:.1f} s"
    )


def run_spec(sandbox: Sandbox, work: Path, name: str, workers: int, variant: str) -> dict[str, Any]:
    return {
        "endpoint": sandbox.url,
        "project_id": sandbox.project_id,
        "workers": workers,
        "variant": variant,
        "database": str(work / f"{name}.duckdb"),
        "pipelines_dir": str(work / f"{name}-dlt"),
    }


def check_complete(result: dict[str, Any], sandbox: Sandbox, what: str) -> None:
    if result["failures"] or result["configs"] != sandbox.configs:
        raise RuntimeError(
            f"{what}: loaded {result['configs']} of {sandbox.configs} configs; "
            f"failures: {result['failures'][:3]}"
        )


# -- rows ------------------------------------------------------------------------------------


VARIANT_LABELS = {
    AS_IS: "as is",
    LIMITED: "experiment C (DuckDB limits)",
}
LEGEND = [
    "as is: pipelines/ exactly as committed (one function_inventory resource, one thread pool of "
    "max_workers for the whole run, both tables declared once as variants, one item per table "
    "per listed page, parquet into DuckDB).",
    f"experiment C (row 4 only, not in pipelines/): DuckDB {DUCKDB_LIMITS} through "
    "DuckDbCredentials(database, global_config=...), monkeypatched into the child process.",
    "row 2 'Arrow' lines are an experiment too: the source yields dicts.",
    "row 4: VmHWM is read when runner.run() returns; ru_maxrss (os.wait4) also covers the "
    "benchmark's own row counts afterwards.",
]


def measured_run(sandbox: Sandbox, work: Path, name: str, workers: int, variant: str) -> dict:
    """One child pipeline run against `sandbox`, with the requests the sandbox saw."""
    log(f"  run {name}: {sandbox.functions:,} functions, {workers} workers, {variant}")
    sandbox.reset()
    result = run_child("run", run_spec(sandbox, work, name, workers, variant), work)
    check_complete(result, sandbox, name)
    result["requests"], result["failed"], result["peak"] = sandbox.count()
    return result


def row_fanout(sizes: Sizes, work: Path, report: Report) -> None:
    functions, workers = sizes.fanout_functions, 16
    log(f"row 1: fan-out, {functions:,} functions, latency {LATENCY_S * 1000:.0f} ms")
    with Sandbox(functions, work) as sandbox:
        sandbox.set_latency(LATENCY_S)
        result = measured_run(sandbox, work, "fanout", workers, AS_IS)
        # a serial run predicted over 2 minutes is measured on 1/10 of the estate and scaled
        predicted = result["requests"] * LATENCY_S + result["wall"]
        serial = None
        if predicted <= SERIAL_LIMIT_S:
            serial = measured_run(sandbox, work, "serial", 1, AS_IS)
            serial["scaled"] = False
    if serial is None:
        with Sandbox(max(functions // 10, 1), work) as sandbox_small:
            sandbox_small.set_latency(LATENCY_S)
            serial = measured_run(sandbox_small, work, "serial", 1, AS_IS)
            serial["scaled"] = True
    requests = result["requests"]
    ideal = requests * LATENCY_S / workers
    report.add(
        "1",
        f"fan-out: {functions:,} functions x 3 = {result['configs']:,} configs, "
        f"{LATENCY_S * 1000:.0f} ms latency, max_workers={workers}, requests_per_second=0; "
        f"{requests:,} API requests ({result['failed']} not 2xx)",
        f"ideal {requests:,} x {LATENCY_S} s / {workers} = {ideal:.2f} s",
    )
    report.add(
        "1", "  as is: wall / extract", f"{result['wall']:.2f} s / {extract_s(result):.2f} s"
    )
    report.add(
        "1",
        "  as is: most requests in flight at once (sandbox); README: at most max_workers",
        str(result["peak"]),
        f"<= {workers} + 1 listing",
        judged(result["peak"], workers + 1, True),
    )
    for what, seconds in (("extract", extract_s(result)), ("wall", result["wall"])):
        ratio = seconds / ideal
        report.add(
            "1", f"  as is: {what} / ideal", f"{ratio:.2f}", "<= 1.25", judged(ratio, 1.25, True)
        )
    if serial["scaled"]:
        factor = requests / serial["requests"]
        non_extract = result["wall"] - extract_s(result)
        serial_wall = extract_s(serial) * factor + non_extract
        how = (
            f"SCALED from 1/10 ({serial['requests']:,} requests): extract "
            f"{extract_s(serial):.1f} s x {factor:.2f} + parallel run's non-extract "
            f"{non_extract:.1f} s = {serial_wall:.1f} s"
        )
    else:
        serial_wall = serial["wall"]
        how = f"measured: {serial['requests']:,} requests, wall {serial_wall:.1f} s"
    report.add(
        "1",
        f"  as is: serial ratio, max_workers=1 wall / parallel wall; {how}; "
        f"most in flight with 1 worker: {serial['peak']}",
        f"{serial_wall / result['wall']:.1f}x",
        f"info (ideal ~{workers}x)",
    )


def row_load(sizes: Sizes, work: Path, report: Report) -> None:
    log(f"row 2: shaping + load of {sizes.load_functions * 3:,} configs (no HTTP)")
    spec = {
        "functions": sizes.load_functions,
        "workdir": str(work),
    }
    r = run_child("load", spec, work)
    configs, shape_s = r["configs"], r["shape_s"]
    plain_s = r["plain"]["seconds"]
    plain_rate = configs / plain_s
    targets = ">= 50,000 rows/s; >= 0.333 of plain"
    report.add(
        "2",
        f"shaping + load: {configs:,} configs of {r['functions']:,} functions from in-memory "
        f"pages (+ 1 scope marker row per function, as the source writes), parquet, "
        f"table/disposition/columns of the source",
        f"shape_config alone: {shape_s:.2f} s = {fmt_rate(configs, shape_s)}",
    )
    report.add(
        "2",
        "  plain DuckDB insert of the shaped rows: Table.from_pylist + CREATE TABLE AS SELECT",
        f"{plain_s:.2f} s (from_pylist {r['plain']['from_pylist_s']:.2f}) = "
        f"{fmt_rate(configs, plain_s)}",
    )

    def variant(label: str, loaded: dict[str, Any], rows: int, before_dlt_s: float) -> None:
        steps = loaded["steps"]
        split = (
            f"extract {steps.get('extract', 0):.1f}, normalize {steps.get('normalize', 0):.1f}, "
            f"load {steps.get('load', 0):.1f}"
        )
        for what, seconds in (
            ("shape + dlt run", before_dlt_s + loaded["seconds"]),
            ("dlt run alone", loaded["seconds"]),
        ):
            rate = rows / seconds
            share = rate / plain_rate
            verdicts = [judged(rate, 50_000, False, " rows/s"), judged(share, 1 / 3, False)]
            report.add(
                "2",
                f"  {label}: {what}" + (f" ({split})" if what == "dlt run alone" else ""),
                f"{seconds:.2f} s = {rate:,.0f} rows/s = {share:.2f} of plain",
                targets,
                "met" if verdicts == ["met", "met"] else "; ".join(verdicts),
            )

    variant(
        f"as is: dicts, variant declared once, 1 item per {PAGE_FUNCTIONS} functions",
        r["declared"],
        configs,
        shape_s,
    )
    if r["arrow_plain"]["error"]:
        report.add(
            "2",
            "  experiment: Arrow tables (explicit schema from CONFIG_COLUMNS, 1 per "
            f"{PAGE_FUNCTIONS} functions), same hints, nothing else",
            f"FAILS: {r['arrow_plain']['error']}",
            "loads",
            "MISSED: scd2 needs a row hash in `_dlt_id`; dlt computes none for Arrow items",
        )
    arrow = r["arrow"]
    variant(
        "experiment: Arrow + `_dlt_id` (dlt's row hash) + ADD_DLT_LOAD_ID",
        arrow,
        configs,
        shape_s + arrow["build_s"],
    )
    report.add(
        "2",
        "    of which building the Arrow tables: row hash / from_pylist",
        f"{arrow['build_s']:.2f} s: {arrow['hash_s']:.2f} / "
        f"{arrow['build_s'] - arrow['hash_s']:.2f} s",
    )

    def versions(loaded: dict[str, Any]) -> tuple[int, int]:
        before, after = loaded["before"], loaded["after"]
        return (
            after[f"{TABLE}.total"] - before[f"{TABLE}.total"],
            after[f"{TABLE}.closed"] - before[f"{TABLE}.closed"],
        )

    for label, loaded, expected in (
        ("identical re-run", r["arrow_same"], (0, 0)),
        ("one changed row", r["arrow_changed"], (1, 1)),
    ):
        new, closed = versions(loaded)
        report.add(
            "2",
            f"  scd2 with Arrow items: {label} -> new / retired versions",
            f"{new} / {closed}",
            f"{expected[0]} / {expected[1]}",
            "met" if (new, closed) == expected else "MISSED",
        )
    new, closed = versions(r["arrow_on_dict"])
    same = r["arrow_vs_dict"]
    report.add(
        "2",
        "  Arrow items into the dict-loaded table -> new / retired versions; live rows "
        f"differing in any column (same `_dlt_id`: {same['same_dlt_id']:,} of {configs:,})",
        f"{new} / {closed}; {same['differing_rows']}",
        "0 / 0; 0",
        "met" if (new, closed, same["differing_rows"]) == (0, 0, 0) else "MISSED",
    )


def row_rerun(sizes: Sizes, work: Path, report: Report) -> None:
    functions = sizes.rerun_functions
    log(f"row 3: sandbox with {functions} functions x 3 configs, no latency")
    with Sandbox(functions, work) as sandbox:
        log("row 3: full first run (as is)")
        first = run_child("run", run_spec(sandbox, work, "rerun", 8, AS_IS), work)
        check_complete(first, sandbox, "row 3 first run")
        log("row 3: unchanged re-run (as is)")
        result = run_child("run", run_spec(sandbox, work, "rerun", 8, AS_IS), work)
        check_complete(result, sandbox, "row 3 re-run")
    report.add(
        "3",
        f"unchanged re-run: {functions:,} functions, {sandbox.configs:,} configs, no latency, "
        f"8 workers; first full run {first['wall']:.1f} s",
        f"{first['after'][f'{TABLE}.total']:,} config rows after the first run",
    )
    before, after = result["before"], result["after"]
    new = after[f"{TABLE}.total"] - before[f"{TABLE}.total"]
    closed = after[f"{TABLE}.closed"] - before[f"{TABLE}.closed"]
    written = after[f"{TABLE}.by_load"]
    functions_written = (
        after["functions.by_load"] + after["functions.closed"] - before["functions.closed"]
    )
    report.add(
        "3",
        f"  as is: config rows before -> after; new versions, retired, rows with the new "
        f"_dlt_load_id (functions table: {functions_written} written)",
        f"{before[f'{TABLE}.total']:,} -> {after[f'{TABLE}.total']:,}; {new}, {closed}, {written}",
        "0 rewritten",
        judged(float(new + closed + written), 0, True, " rows"),
    )
    ratio = result["wall"] / extract_s(result)
    report.add(
        "3",
        f"  as is: wall / extract = {breakdown(result)}",
        f"{result['wall']:.2f} / {extract_s(result):.2f} s = {ratio:.2f}x",
        "<= 1.1x",
        judged(ratio, 1.1, True, "x"),
    )


def row_memory(sizes: Sizes, work: Path, report: Report) -> None:
    variants = (AS_IS, LIMITED)
    results: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    configs = []
    for functions in sizes.memory_functions:
        log(f"row 4: memory, {functions:,} functions, no latency")
        with Sandbox(functions, work) as sandbox:
            configs.append(sandbox.configs)
            for variant in variants:
                name = f"memory-{functions}-{variant}"
                results[variant].append(measured_run(sandbox, work, name, 8, variant))
    report.add(
        "4",
        "peak memory of a whole run (make_pipeline + functiongraph + runner.run) in its own "
        f"process: VmHWM when run() returns; sandbox in another process, no latency, "
        f"max_workers=8; {configs[0]:,} and {configs[1]:,} configs",
        f"RSS after importing pipelines + duckdb: {results[AS_IS][0]['baseline_mb']:.0f} MB",
    )
    for variant in variants:
        label = VARIANT_LABELS[variant]
        peaks = [result["vm_hwm_mb"] for result in results[variant]]
        for index, result in enumerate(results[variant]):
            rss = result["rss_at"]
            report.add(
                "4",
                f"  {label}: {configs[index]:,} configs (run {result['wall']:.0f} s; RSS at "
                f"extract start {rss.get('extract start', 0):.0f}, extract end "
                f"{rss.get('extract finish', 0):.0f}, normalize end "
                f"{rss.get('normalize finish', 0):.0f} MB; peak during {result['peak_phase']}; "
                f"os.wait4 ru_maxrss {result['maxrss_mb']:.0f} MB)",
                f"{peaks[index]:.0f} MB",
                "<= 300 MB",
                judged(peaks[index], 300, True, " MB"),
            )
        ratio = peaks[1] / peaks[0]
        report.add(
            "4",
            f"  {label}: larger / smaller",
            f"{ratio:.2f}x",
            "<= 1.2x",
            judged(ratio, 1.2, True, "x"),
        )


ROWS: dict[int, Callable[[Sizes, Path, Report], None]] = {
    1: row_fanout,
    2: row_load,
    3: row_rerun,
    4: row_memory,
}


def machine() -> list[str]:
    versions = ", ".join(
        f"{name} {metadata.version(name)}" for name in ("dlt", "duckdb", "pyarrow", "pandas")
    )
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    usable = len(os.sched_getaffinity(0))
    memory = next(
        (
            int(line.split()[1]) / 1024**2
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        float("nan"),
    )
    return [
        f"machine: {usable} usable cores ({os.cpu_count()} online), {cpu}, "
        f"{memory:.0f} GiB RAM, {platform.platform()}",
        f"python {platform.python_version()}; {versions}",
    ]


def render(report: Report, sizes: Sizes, command: str, seconds: float) -> str:
    headers = ("#", "measure", "value", "target", "result")
    table = [headers, *[(r.row, r.measure, r.value, r.target, r.result) for r in report.rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(headers))]
    lines = [
        f"command: {command}",
        *machine(),
        f"sizes: {sizes.label}",
        "",
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for line in table[1:]:
        lines.append(
            "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |"
        )
    lines += ["", *report.notes, f"benchmark wall time: {seconds:.0f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run under a minute"
    )
    parser.add_argument(
        "--only",
        type=int,
        action="append",
        choices=sorted(ROWS),
        metavar="N",
        help="run only row N (repeatable)",
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(*args.child)
        return 0
    # a scheduler's SIGTERM stops the benchmark like Ctrl-C: children killed, folders removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = QUICK if args.quick else FULL
    command = " ".join(shlex.quote(part) for part in [sys.executable, *sys.argv])
    started = time.perf_counter()
    report = Report(notes=list(LEGEND))
    work = Path(tempfile.mkdtemp(prefix="fgs-benchmark-"))
    try:
        for number in sorted(set(args.only or ROWS)):
            try:
                ROWS[number](sizes, work, report)
            except Exception as exc:
                report.add(
                    str(number), "row failed", " ".join(str(exc).split())[:300], "-", "ERROR"
                )
                log(f"row {number} failed: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(render(report, sizes, command, time.perf_counter() - started))
    return 1 if any(r.result == "ERROR" for r in report.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
