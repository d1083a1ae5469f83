"""What the small estate loads as: the rows of reporting.current_async_invoke_configs."""

from __future__ import annotations

from tests.support.estates import ALPHA, BETA, DELTA, PROJECT, REGION

TOPIC = f"urn:smn:{REGION}:{PROJECT}:alerts"
TO_BETA = f"{BETA}:latest"

# func_urn, qualifier, kind, package, name, age, retries, status log,
# success destination/target, failure destination/target
EXPECTED = [
    (f"{DELTA}:!blue", "!blue", "alias", "billing", "delta", 3600, 3, True,
     "FunctionGraph", TO_BETA, "FunctionGraph", TO_BETA),
    (f"{DELTA}:latest", "latest", "latest", "billing", "delta", 3600, 3, True,
     "DIS", "billing-events", "DIS", "billing-events"),
    (f"{DELTA}:v1", "v1", "version", "billing", "delta", 3600, 3, True,
     "DIS", "billing-events", "SMN", TOPIC),
    (f"{DELTA}:v2", "v2", "version", "billing", "delta", 3600, 0, True,
     "SMN", TOPIC, None, None),
    (f"{DELTA}:v3", "v3", "version", "billing", "delta", 3600, 3, False,
     None, None, "OBS", "fgs-logs"),
    (f"{ALPHA}:!prod", "!prod", "alias", "default", "alpha", 3600, 0, True,
     None, None, "SMN", TOPIC),
    (f"{ALPHA}:latest", "latest", "latest", "default", "alpha", 3600, 3, True,
     "OBS", "fgs-logs", "FunctionGraph", TO_BETA),
    (f"{ALPHA}:v1", "v1", "version", "default", "alpha", 3600, 2, True,
     None, None, None, None),
    (f"{BETA}:latest", "latest", "latest", "default", "beta", 60, 1, True,
     None, None, "DIS", None),
]  # fmt: skip

CURRENT = """
    select func_urn, qualifier, qualifier_kind, package, function_name,
        max_async_event_age_in_seconds, max_async_retry_attempts, enable_async_status_log,
        on_success_destination, on_success_target, on_failure_destination, on_failure_target
    from reporting.current_async_invoke_configs order by func_urn
"""
