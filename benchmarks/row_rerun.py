"""Row 3, unchanged re-run: a second run over the same estate must rewrite nothing.

A scheduled run mostly finds nothing changed. The `scd2` tables must then get no new versions, no
retired ones, and no row stamped with the new `_dlt_load_id`; and the run should cost little more
than fetching: wall time against extract time of the same re-run, with the wall split into
extract, normalize, load, models, count_changes and the rest (see `timed_run`). The first run,
which loads everything, is only the setup.
"""

from __future__ import annotations

from pathlib import Path

from harness import (
    TABLE,
    Report,
    Sandbox,
    Sizes,
    breakdown,
    check_complete,
    extract_s,
    judged,
    log,
    run_child,
    run_spec,
)

WORKERS = 8


def row_rerun(sizes: Sizes, work: Path, report: Report) -> None:
    functions = sizes.rerun_functions
    log(f"row 3: sandbox with {functions} functions x 3 configs, no latency")
    with Sandbox(functions, work) as sandbox:
        log("row 3: full first run (as is)")
        first = run_child("run", run_spec(sandbox, work, "rerun", WORKERS), work)
        check_complete(first, sandbox, "row 3 first run")
        log("row 3: unchanged re-run (as is)")
        result = run_child("run", run_spec(sandbox, work, "rerun", WORKERS), work)
        check_complete(result, sandbox, "row 3 re-run")
    report.add(
        "3",
        f"unchanged re-run: {functions:,} functions, {sandbox.configs:,} configs, no latency, "
        f"{WORKERS} workers; first full run {first['wall']:.1f} s",
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
