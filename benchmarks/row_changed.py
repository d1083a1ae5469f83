"""Row 6, a re-run with 1% of the configs changed: does the run cost what changed?

The usual scheduled run finds a few configs changed among many. Only those should reach dlt (plus
the markers of what is gone, here none), and the run should cost little more than fetching the
estate. The row loads the estate once (setup), changes 1% of its configs in the sandbox (the
retry count, spread evenly), runs again, and reports the rows handed to dlt (dlt's normalize
counts) against the changed configs, the versions written, and wall time against extract time.
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
SHARE = 0.01


def row_changed(sizes: Sizes, work: Path, report: Report) -> None:
    functions = sizes.changed_functions
    log(f"row 6: sandbox with {functions:,} functions x 3 configs, no latency")
    with Sandbox(functions, work) as sandbox:
        mutated: list[int] = []
        wanted = round(sandbox.configs * SHARE)
        first, result = run_twice(
            sandbox, work, "changed", WORKERS, lambda: mutated.append(sandbox.mutate(wanted))
        )
    (changed,) = mutated
    before, after = result["before"], result["after"]
    versions = after[f"{TABLE}.total"] - before[f"{TABLE}.total"]
    retired = after[f"{TABLE}.closed"] - before[f"{TABLE}.closed"]
    sent = result["sent"]
    report.add(
        "6",
        f"re-run with {changed:,} of {sandbox.configs:,} configs changed ({SHARE:.0%}), "
        f"{functions:,} functions, no latency, {WORKERS} workers; first full run "
        f"{first['wall']:.1f} s",
        f"{versions:,} new versions, {retired:,} retired",
    )
    report.add(
        "6",
        "  config rows sent to dlt (normalized) / changed configs; function rows sent",
        f"{sent[TABLE]:,} / {changed:,}; {sent['functions']:,}",
        "= the changed rows",
        judged(float(sent[TABLE] - changed + sent["functions"]), 0, True, " rows"),
    )
    wall_over_extract(report, "6", "", result, 1.15)
