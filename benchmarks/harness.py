"""The benchmark harness: sandbox and child processes, the table, and the command line.

What it measures is in the row modules (`row_fanout`, `row_shaping_load`, `row_rerun`,
`row_memory`) and in `timed_run` (one whole pipeline run, timed step by step); this module only
gives them what every row needs, so that every row is measured the same way:

* every sandbox runs in its own process (its threads never share the GIL with the pipeline being
  measured) and listens on 127.0.0.1 only;
* every pipeline run is a child process too (`benchmark.py --child MODE SPEC`), so its peak RSS is
  its own (`os.wait4`), and the environment it gets is explicit (`child_env`);
* the table and its verdicts (`judged`) are printed the same way for every row, and temporary
  folders are removed at the end, also on errors.

Nothing here imports `pipelines`, dlt or DuckDB at module level: the child processes import this
module, and what they import before measuring would count in their memory.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.abc
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ENTRY_POINT = BENCH_DIR / "benchmark.py"
REGION = "cn-north-4"
TOKEN = "benchmark-token-5e1f"
TABLE = "async_invoke_configs"
ESTATE_BLOCK = 4000
"""`generate_estate` is quadratic in functions (every FunctionGraph destination scans the whole
function list); larger estates repeat blocks of this size under new function names."""
CHILD_TIMEOUT_S = 1500.0
RESULT_PREFIX = "BENCHMARK-RESULT "
AS_IS_NOTE = (
    "as is: pipelines/ exactly as committed (one function_inventory resource, one thread pool of "
    "max_workers for the whole run, both tables declared once as variants, one item per table "
    "per listed page, parquet into DuckDB), driven step by step the way runner.run() does (see "
    "benchmarks/timed_run.py); nothing in pipelines/ is patched."
)


@dataclass(frozen=True)
class Sizes:
    label: str
    fanout_functions: int
    load_functions: int
    rerun_functions: int
    memory_functions: tuple[int, int]
    gateway_functions: int
    changed_functions: int
    concurrent_functions: int
    """Per scope, in row 7's 8 scopes."""


FULL = Sizes("full", 2000, 40000, 2000, (4000, 40000), 600, 40000, 150)
QUICK = Sizes("quick (small sizes, smoke run only)", 100, 1000, 100, (100, 1000), 100, 1000, 20)


# -- estates and the sandbox process ---------------------------------------------------------


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


def build_projects(projects: int, functions: int) -> Any:
    """`projects` projects of `functions` functions each, with 3 configs per function."""
    from pipelines.sandbox import generate_estate

    ids = [f"{index + 1:032x}" for index in range(projects)]
    return generate_estate(
        projects=[(REGION, project_id) for project_id in ids],
        functions_per_project=functions,
        configs_per_function=(3, 3),
    )


def serve_sandbox(functions: int, token: str, projects: int = 1) -> None:
    """Body of the sandbox process: serve an estate on 127.0.0.1 until stdin closes.

    One project of `functions` (`build_estate`), or `projects` projects of `functions` each
    (`build_projects`). Prints `READY url project_ids functions configs` (ids joined by commas;
    counts over all projects), then answers one line per command on
    stdin: `latency SECONDS`, `throttle PER_SECOND`, `mutate N` (change N configs), `reset`
    (forget the requests seen), `count`
    (API requests seen,
    how many were not 2xx, and the most that were being answered at the same time).
    """
    from pipelines.sandbox import SandboxServer

    class CountingServer(SandboxServer):
        """Counts the requests being answered at the same time (latency included)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.in_flight, self.peak = 0, 0
            self.count_lock = threading.Lock()

        def respond(self, *args: Any, **kwargs: Any) -> Any:
            with self.count_lock:
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            try:
                return super().respond(*args, **kwargs)
            finally:
                with self.count_lock:
                    self.in_flight -= 1

    estate = build_estate(functions) if projects == 1 else build_projects(projects, functions)
    served = list(estate.projects.values())
    configs = sum(len(items) for project in served for items in project.configs.values())
    listed = sum(len(project.functions) for project in served)
    ids = ",".join(project.project_id for project in served)
    server = CountingServer(estate, host="127.0.0.1", port=0, tokens=(token,))
    server.start()
    print("READY", server.url, ids, listed, configs, flush=True)
    try:
        for line in sys.stdin:
            command, *args = line.split()
            if command == "latency":
                server.faults.latency_s = float(args[0])
                print("ok", flush=True)
            elif command == "throttle":
                server.gateway.per_second = float(args[0])
                print("ok", flush=True)
            elif command == "mutate":
                print(mutate(estate, int(args[0])), flush=True)
            elif command == "reset":
                server.clear_requests_seen()
                with server.count_lock:
                    server.peak = 0
                print("ok", flush=True)
            elif command == "count":
                seen = [r for r in server.requests_seen if r.path.startswith("/v2/")]
                failed = sum(1 for r in seen if not 200 <= r.status < 300)
                print(len(seen), failed, server.peak, flush=True)
            else:
                print("error unknown command", flush=True)
    finally:
        server.stop()


def mutate(estate: Any, changes: int) -> int:
    """Raise the retry count of `changes` configs spread evenly over the estate; how many."""
    configs = estate.all_configs()
    step = max(len(configs) // max(changes, 1), 1)
    changed = configs[::step][:changes]
    for config in changed:
        retries = config.get("max_async_retry_attempts") or 0
        estate.upsert_config({**config, "max_async_retry_attempts": (retries + 1) % 9})
    return len(changed)


SANDBOX_CODE = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import harness; harness.serve_sandbox(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))"
)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without dlt's source/destination keys, plus `extra` (one child only)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SOURCES__", "DESTINATION__", "NORMALIZE__", "EXTRACT__"))
    }
    env["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    env["PYTHONHASHSEED"] = "0"
    env.update(extra or {})
    return env


class Sandbox:
    """A sandbox server in its own process, driven through its stdin/stdout."""

    def __init__(self, functions: int, workdir: Path, projects: int = 1) -> None:
        self._log = (workdir / f"sandbox-{projects}x{functions}.log").open("w")
        code = [sys.executable, "-c", SANDBOX_CODE, str(BENCH_DIR), str(functions), TOKEN]
        self._proc = subprocess.Popen(
            [*code, str(projects)],
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
        self.url, self.project_ids = words[1], words[2].split(",")
        self.project_id = self.project_ids[0]
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

    def set_throttle(self, per_second: float) -> None:
        """The sandbox gateway's flow control: beyond it, 429 APIG.0308 (0: off)."""
        self.command(f"throttle {per_second}")

    def reset(self) -> None:
        self.command("reset")

    def mutate(self, changes: int) -> int:
        """Change the retry count of `changes` configs; how many were changed."""
        return int(self.command(f"mutate {changes}"))

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


def run_child(
    mode: str, spec: dict[str, Any], workdir: Path, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run `benchmark.py --child MODE SPEC`; its result, plus `maxrss_mb` from `os.wait4`.

    `env` is added to that child's environment only (see `child_env`).
    """
    out_path = workdir / f"child-{mode}-{time.monotonic_ns()}.out"
    err_path = out_path.with_suffix(".err")
    command = [sys.executable, str(ENTRY_POINT), "--child", mode, json.dumps(spec)]
    with out_path.open("w") as out, err_path.open("w") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=workdir, env=child_env(env))
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


NOT_INSTALLED = "FGS_BENCHMARK_NOT_INSTALLED"
"""A child environment key: comma-separated top-level packages the child cannot import, as if
they were not installed (row 4 measures the base install, which has no pandas, from the dev
virtual environment, which has it)."""


class _NotInstalled(importlib.abc.MetaPathFinder):
    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def child_main(children: Mapping[str, Callable[[dict[str, Any]], dict]], mode: str, spec: str):
    """Body of a child process: run `children[mode]` and print its result for `run_child`."""
    if os.environ.get(NOT_INSTALLED):
        sys.meta_path.insert(0, _NotInstalled(set(os.environ[NOT_INSTALLED].split(","))))
    result = children[mode](json.loads(spec))
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def run_spec(sandbox: Sandbox, work: Path, name: str, workers: int) -> dict[str, Any]:
    """What `timed_run.child_run` needs: the sandbox, the workers, and files of its own."""
    return {
        "endpoint": sandbox.url,
        "project_id": sandbox.project_id,
        "workers": workers,
        "database": str(work / f"{name}.duckdb"),
        "pipelines_dir": str(work / f"{name}-dlt"),
    }


def check_complete(result: dict[str, Any], sandbox: Sandbox, what: str) -> None:
    if result["failures"] or result["configs"] != sandbox.configs:
        raise RuntimeError(
            f"{what}: loaded {result['configs']} of {sandbox.configs} configs; "
            f"failures: {result['failures'][:3]}"
        )


def run_twice(
    sandbox: Sandbox, work: Path, name: str, workers: int, between: Callable[[], object] = str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A full first run (the setup), then `between()`, then the re-run being measured."""
    log(f"  {name}: full first run (setup)")
    first = run_child("run", run_spec(sandbox, work, name, workers), work)
    check_complete(first, sandbox, f"{name} first run")
    between()
    log(f"  {name}: re-run")
    again = run_child("run", run_spec(sandbox, work, name, workers), work)
    check_complete(again, sandbox, f"{name} re-run")
    return first, again


def measured_run(
    sandbox: Sandbox,
    work: Path,
    name: str,
    workers: int,
    variant: str = "as_is",
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One child pipeline run against `sandbox`, with the requests the sandbox saw."""
    log(f"  run {name}: {sandbox.functions:,} functions, {workers} workers, {variant}")
    sandbox.reset()
    result = run_child("run", run_spec(sandbox, work, name, workers), work, env)
    check_complete(result, sandbox, name)
    result["requests"], result["failed"], result["peak"] = sandbox.count()
    return result


# -- results and targets ---------------------------------------------------------------------


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


RowFunction = Callable[[Sizes, Path, Report], None]


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


def wall_over_extract(
    report: Report, row: str, label: str, result: dict[str, Any], target: float
) -> None:
    """The row's line judging a whole run's wall time against its extract (fetch) time."""
    ratio = result["wall"] / extract_s(result)
    report.add(
        row,
        f"  {label}wall / extract = {breakdown(result)}",
        f"{result['wall']:.2f} / {extract_s(result):.2f} s = {ratio:.2f}x",
        f"<= {target}x",
        judged(ratio, target, True, "x"),
    )


def breakdown(result: dict[str, Any]) -> str:
    """A run's wall time split into dlt's steps, the models, counting changes, and the rest."""
    steps = result["steps"]
    rest = result["wall"] - sum(steps.get(k, 0.0) for k in ("extract", "normalize", "load"))
    return (
        f"extract {steps.get('extract', 0):.1f} + normalize {steps.get('normalize', 0):.1f} + "
        f"load {steps.get('load', 0):.1f} + models {result['models']:.1f} + "
        f"count_changes {result['count_changes']:.1f} + other "
        f"{rest - result['models'] - result['count_changes']:.1f} s"
    )


# -- the table and the command line ----------------------------------------------------------


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


def main(
    rows: Mapping[int, RowFunction],
    children: Mapping[str, Callable[[dict[str, Any]], dict]],
    description: str | None,
    legend: list[str],
    argv: list[str] | None = None,
) -> int:
    """`--quick`, `--only N` (repeatable), and the hidden `--child MODE SPEC` of `run_child`."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke run under a minute"
    )
    parser.add_argument(
        "--only",
        type=int,
        action="append",
        choices=sorted(rows),
        metavar="N",
        help="run only row N (repeatable)",
    )
    parser.add_argument("--child", nargs=2, metavar=("MODE", "SPEC"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(children, *args.child)
        return 0
    # a scheduler's SIGTERM stops the benchmark like Ctrl-C: children killed, folders removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sizes = QUICK if args.quick else FULL
    command = " ".join(shlex.quote(part) for part in [sys.executable, *sys.argv])
    started = time.perf_counter()
    report = Report(notes=list(legend))
    work = Path(tempfile.mkdtemp(prefix="fgs-benchmark-"))
    try:
        for number in sorted(set(args.only or rows)):
            try:
                rows[number](sizes, work, report)
            except Exception as exc:
                report.add(
                    str(number), "row failed", " ".join(str(exc).split())[:300], "-", "ERROR"
                )
                log(f"row {number} failed: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(render(report, sizes, command, time.perf_counter() - started))
    return 1 if any(r.result == "ERROR" for r in report.rows) else 0
