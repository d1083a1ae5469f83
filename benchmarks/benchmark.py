"""Benchmarks of the FunctionGraph connector against the sandbox, printed as one table.

    .venv/bin/python benchmarks/benchmark.py            # full run (several minutes, 2 cores)
    .venv/bin/python benchmarks/benchmark.py --quick    # smoke run with small, labelled sizes
    .venv/bin/python benchmarks/benchmark.py --only 2   # one row (repeat --only for more)

Rows (every value is measured in the same invocation, every ratio against a baseline measured
in the same run):

1. fan-out (row_fanout.py): a run against a sandbox with 50 ms latency, 16 workers, no rate
   limit: wall and extract time against the ideal `requests x latency / workers`, the most
   requests in flight, and the serial ratio.
2. shaping + load (row_shaping_load.py): shaped config rows loaded by dlt the way the source
   yields them (table variants declared once, one item per listing page, parquet), beside
   shape_config alone and a plain DuckDB insert of the same rows.
3. unchanged re-run (row_rerun.py): a second run over the same estate: rows rewritten, wall vs
   extract time, and where the rest of the wall time goes.
4. peak memory (row_memory.py) of a whole run at two sizes.
5. a throttling gateway (row_gateway.py): the adaptive rate against a 40 requests/s limit.
6. 1% changed (row_changed.py): a re-run after 1% of 120,000 configs changed: rows sent to dlt
   and wall vs extract time.
7. scopes at once (row_concurrent.py): 8 scopes loaded by 8 runs at once against one after
   another, into one PostgreSQL database and into one DuckDB file.

Every "as is" row measures `pipelines/` unchanged; whole runs are driven step by step the way
`runner.run()` does, each step timed from outside (timed_run.py). Row 4 adds one experiment,
set through dlt's configuration in the environment of its child process only (`pipelines/` is
neither edited nor patched): experiment C, DuckDB `memory_limit` and `threads` for the
pipeline's DuckDB.

The harness (harness.py) runs every sandbox in its own process (its threads never share the GIL
with the pipeline being measured), listening on 127.0.0.1 only; every pipeline run is a child
process too (`benchmark.py --child MODE SPEC`), so its peak RSS is its own (`os.wait4`).
Temporary folders are removed at the end, also on errors.
"""

from __future__ import annotations

import sys

import harness
import row_memory
from row_changed import row_changed
from row_concurrent import row_concurrent
from row_fanout import row_fanout
from row_gateway import row_gateway
from row_rerun import row_rerun
from row_shaping_load import child_load, row_shaping_load
from timed_run import child_run

ROWS: dict[int, harness.RowFunction] = {
    1: row_fanout,
    2: row_shaping_load,
    3: row_rerun,
    4: row_memory.row_memory,
    5: row_gateway,
    6: row_changed,
    7: row_concurrent,
}
CHILDREN = {"run": child_run, "load": child_load}
LEGEND = [harness.AS_IS_NOTE, *row_memory.NOTES]


def main(argv: list[str] | None = None) -> int:
    return harness.main(ROWS, CHILDREN, __doc__, LEGEND, argv)


if __name__ == "__main__":
    sys.exit(main())
