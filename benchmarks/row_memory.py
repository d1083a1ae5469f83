"""Row 4, peak memory of a whole run, at two sizes: is it bounded, and flat in the estate's size?

A scheduled run should fit a small container whatever the estate: the row runs the whole pipeline
(`timed_run`) in a process of its own against estates of two sizes and reads its peak resident
set (`VmHWM`) when the run is over, with the RSS at the edges of extract and normalize and the
step the sampled peak fell in. Targets: at most 300 MB, and the larger estate at most 1.2x the
smaller one, both measured in the same invocation.

"As is" is the base install (`pip install fgs-async-configs`), which has no pandas: the child
cannot import pandas or numpy (`harness.NOT_INSTALLED`). The last variant lets DuckDB import
pandas, as it does on its first parameterized query wherever pandas is installed (the notebook
extra, or any environment that has it).

Experiment C runs the same pipeline with DuckDB's `memory_limit` and `threads` capped, set through
dlt's own configuration for that child process only:
`DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG` (dlt merges it into the credentials that
`make_pipeline` gives as a path). The row also shows the settings the pipeline's DuckDB
connection reports after the run, so an experiment that did not take effect is seen as such.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness import NOT_INSTALLED, Report, Sandbox, Sizes, judged, log, measured_run

AS_IS = "as_is"
LIMITED = "duckdb_limits"
WITH_PANDAS = "with_pandas"
DUCKDB_LIMITS = {
    "memory_limit": "100MB",
    "threads": 1,
    "allocator_flush_threshold": "0MB",
    "allocator_bulk_deallocation_flush_threshold": "0MB",
}
"""DuckDB settings of experiment C: the README's advice for a small runner (bounded buffer pool,
one thread, freed memory handed back to the OS after every task)."""
LIMITS_ENV = {"DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG": json.dumps(DUCKDB_LIMITS)}
BASE_INSTALL = {NOT_INSTALLED: "pandas,numpy"}
"""What `pip install fgs-async-configs` lacks and the benchmark's dev environment has."""
VARIANTS = {AS_IS: BASE_INSTALL, LIMITED: {**BASE_INSTALL, **LIMITS_ENV}, WITH_PANDAS: {}}
VARIANT_LABELS = {
    AS_IS: "as is (the base install)",
    LIMITED: "experiment C (DuckDB limits)",
    WITH_PANDAS: "with the notebook extra installed (pandas)",
}
WORKERS = 8
NOTES = [
    f"experiment C (row 4 only, not in pipelines/): DuckDB {DUCKDB_LIMITS} through dlt's "
    f"configuration, {' '.join(f'{k}={v}' for k, v in LIMITS_ENV.items())} in that child "
    "process's environment only.",
    "row 4: the base install has no pandas or numpy (they come with the notebook extra); the "
    f"benchmark's environment has them, so 'as is' and experiment C run with {NOT_INSTALLED}="
    "pandas,numpy (those imports fail in that child, as where they are not installed); the "
    "last variant lets DuckDB import pandas, as it does wherever pandas is installed.",
    "row 4: VmHWM is read when the run's last step returns; ru_maxrss (os.wait4) also covers "
    "the benchmark's own row counts afterwards.",
]
UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def to_bytes(setting: str) -> float:
    """DuckDB's `memory_limit` ("95.3 MiB", "100MB") in bytes; NaN if unreadable."""
    match = re.fullmatch(r"\s*([\d.]+)\s*([KMG]i?B|B)\s*", setting)
    return float(match[1]) * UNITS[match[2]] if match else float("nan")


def row_memory(sizes: Sizes, work: Path, report: Report) -> None:
    results: dict[str, list[dict[str, Any]]] = {variant: [] for variant in VARIANTS}
    configs = []
    for functions in sizes.memory_functions:
        log(f"row 4: memory, {functions:,} functions, no latency")
        with Sandbox(functions, work) as sandbox:
            configs.append(sandbox.configs)
            for variant, env in VARIANTS.items():
                name = f"memory-{functions}-{variant}"
                results[variant].append(
                    measured_run(sandbox, work, name, WORKERS, variant, env=env)
                )
    report.add(
        "4",
        "peak memory of a whole run (make_pipeline + functiongraph + runner.run's steps) in its "
        f"own process: VmHWM when the run is over; sandbox in another process, no latency, "
        f"max_workers={WORKERS}; {configs[0]:,} and {configs[1]:,} configs",
        f"RSS after importing pipelines + duckdb: {results[AS_IS][0]['baseline_mb']:.0f} MB",
    )
    for variant in VARIANTS:
        label = VARIANT_LABELS[variant]
        peaks = [result["vm_hwm_mb"] for result in results[variant]]
        for index, result in enumerate(results[variant]):
            rss = result["rss_at"]
            pandas = "imported" if result["pandas_imported"] else "not imported"
            report.add(
                "4",
                f"  {label}: {configs[index]:,} configs (run {result['wall']:.0f} s; pandas "
                f"{pandas}; RSS at "
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
    seen = [result["duckdb_settings"] for result in results[LIMITED]]
    as_is = results[AS_IS][0]["duckdb_settings"]
    wanted = to_bytes(str(DUCKDB_LIMITS["memory_limit"]))
    applied = all(
        s["threads"] == DUCKDB_LIMITS["threads"]
        and abs(to_bytes(s["memory_limit"]) - wanted) <= 0.01 * wanted
        for s in seen
    )
    report.add(
        "4",
        "  experiment C: settings the pipeline's DuckDB connection reports after the run "
        f"(as is: memory_limit {as_is['memory_limit']}, threads {as_is['threads']})",
        "; ".join(f"memory_limit {s['memory_limit']}, threads {s['threads']}" for s in seen),
        f"memory_limit {DUCKDB_LIMITS['memory_limit']}, threads {DUCKDB_LIMITS['threads']}",
        "met" if applied else "NOT APPLIED: experiment C measured the as-is settings",
    )
