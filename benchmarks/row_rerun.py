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
    judged,
    log,
    run_twice,
    wall_over_extract,
)

WORKERS = 8


def row_rerun(sizes: Sizes, work: Path, report: Report) -> None:
    functions = sizes.rerun_functions
    log(f"row 3: sandbox with {functions} functions x 3 configs, no latency")
    with Sandbox(functions, work) as sandbox:
        first, result = run_twice(sandbox, work, "rerun", WORKERS)
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
    sent = result["sent"]
    report.add(
        "3",
        "  as is: rows handed to dlt (normalized), configs + functions",
        f"{sent[TABLE]:,} + {sent['functions']:,}",
        "0",
        judged(float(sent[TABLE] + sent["functions"]), 0, True, " rows"),
    )
    wall_over_extract(report, "3", "as is: ", result, 1.1)
