"""Row 5, a throttling gateway: does the adaptive rate find the API's limit by itself?

The sandbox's gateway allows `GATEWAY_RPS` requests a second and answers 429 `APIG.0308`
without `Retry-After` beyond it, as Huawei's API gateway does. The run uses the defaults (the
adaptive rate from 20 requests a second, no ceiling) and 16 workers against 50 ms latency. It
should use most of what the gateway allows (successful requests a second during extraction,
against the limit) while few of its requests are refused.
"""

from __future__ import annotations

from pathlib import Path

from harness import Report, Sandbox, Sizes, extract_s, judged, log, measured_run

GATEWAY_RPS = 40.0
LATENCY_S = 0.05
WORKERS = 16


def row_gateway(sizes: Sizes, work: Path, report: Report) -> None:
    functions = sizes.gateway_functions
    log(f"row 5: gateway limited to {GATEWAY_RPS:.0f} requests/s, {functions:,} functions")
    with Sandbox(functions, work) as sandbox:
        sandbox.set_latency(LATENCY_S)
        sandbox.set_throttle(GATEWAY_RPS)
        result = measured_run(sandbox, work, "gateway", WORKERS)
    requests, refused = result["requests"], result["failed"]
    served = (requests - refused) / extract_s(result)
    report.add(
        "5",
        f"gateway limited to {GATEWAY_RPS:.0f} requests/s (429 APIG.0308, no Retry-After): "
        f"{functions:,} functions, {LATENCY_S * 1000:.0f} ms latency, defaults but "
        f"max_workers={WORKERS}; {requests:,} API requests, {refused} refused",
        f"extract {extract_s(result):.2f} s, wall {result['wall']:.2f} s",
    )
    share = served / GATEWAY_RPS
    report.add(
        "5",
        "  as is: successful requests/s during extraction / the gateway's limit",
        f"{served:.1f} / {GATEWAY_RPS:.0f} = {share:.2f}",
        ">= 0.80",
        judged(share, 0.80, False),
    )
    refused_share = refused / requests
    report.add(
        "5",
        "  as is: refused (429) / all requests",
        f"{refused} / {requests} = {refused_share:.3f}",
        "<= 0.05",
        judged(refused_share, 0.05, True),
    )
