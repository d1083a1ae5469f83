"""Row 1, fan-out: does the thread pool keep the API busy, and no busier than `max_workers`?

The connector fetches every function's configs in one thread pool of `max_workers`. Against a
sandbox answering every request after 50 ms, with defaults (the adaptive request rate, no
ceiling) and only `max_workers=16` set, a perfect fan-out would
take `requests x latency / workers`: the ideal, measured from the requests the sandbox counted in
the same run. The row reports extract and wall time against that ideal, the most requests the
sandbox answered at the same time (the README promises at most `max_workers`, plus the listing),
and the serial ratio: the same run with `max_workers=1` against the parallel run. A serial run
predicted over `SERIAL_LIMIT_S` is measured on a tenth of the estate and scaled (said so in the
row).
"""

from __future__ import annotations

from pathlib import Path

from harness import Report, Sandbox, Sizes, extract_s, judged, log, measured_run

LATENCY_S = 0.05
SERIAL_LIMIT_S = 120.0
WORKERS = 16


def row_fanout(sizes: Sizes, work: Path, report: Report) -> None:
    functions, workers = sizes.fanout_functions, WORKERS
    log(f"row 1: fan-out, {functions:,} functions, latency {LATENCY_S * 1000:.0f} ms")
    with Sandbox(functions, work) as sandbox:
        sandbox.set_latency(LATENCY_S)
        result = measured_run(sandbox, work, "fanout", workers)
        # a serial run predicted over 2 minutes is measured on 1/10 of the estate and scaled
        predicted = result["requests"] * LATENCY_S + result["wall"]
        serial = None
        if predicted <= SERIAL_LIMIT_S:
            serial = measured_run(sandbox, work, "serial", 1)
            serial["scaled"] = False
    if serial is None:
        with Sandbox(max(functions // 10, 1), work) as sandbox_small:
            sandbox_small.set_latency(LATENCY_S)
            serial = measured_run(sandbox_small, work, "serial", 1)
            serial["scaled"] = True
    requests = result["requests"]
    ideal = requests * LATENCY_S / workers
    report.add(
        "1",
        f"fan-out: {functions:,} functions x 3 = {result['configs']:,} configs, "
        f"{LATENCY_S * 1000:.0f} ms latency, defaults but max_workers={workers}; "
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
