"""Hand-written estates served by the sandbox, and the names the tests assert against."""

from __future__ import annotations

from pipelines.sandbox import (
    Estate,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
)

REGION = "cn-north-4"
PROJECT = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
TOKEN = "e2e-token-7f3a9c"
ALPHA = function_urn(REGION, PROJECT, "default", "alpha")
BETA = function_urn(REGION, PROJECT, "default", "beta")
GAMMA = function_urn(REGION, PROJECT, "billing", "gamma")
DELTA = function_urn(REGION, PROJECT, "billing", "delta")


def small_estate() -> Estate:
    """Four functions, nine configs; every value below is asserted by hand in the tests."""
    estate = Estate()
    estate.add_project(REGION, PROJECT)
    obs = make_destination("OBS", {"bucket": "fgs-logs", "prefix": "alpha/", "expires": 7})
    to_beta = make_destination("FunctionGraph", {"func_urn": f"{BETA}:latest"})
    smn = make_destination("SMN", {"topic_urn": f"urn:smn:{REGION}:{PROJECT}:alerts"})
    estate.add_function(
        PROJECT,
        make_function_item(REGION, PROJECT, "default", "alpha"),
        [
            make_config_item(ALPHA, "latest", on_success=obs, on_failure=to_beta),
            make_config_item(ALPHA, "!prod", on_failure=smn, max_async_retry_attempts=0),
            make_config_item(
                ALPHA,
                "v1",
                destination_config={},
                max_async_retry_attempts=2,
                last_modified="2021-03-04T14:50:02Z",
            ),
        ],
    )
    estate.add_function(
        PROJECT,
        make_function_item(REGION, PROJECT, "default", "beta", runtime="Node.js16.17"),
        [
            make_config_item(
                BETA,
                "latest",
                on_failure={"destination": "DIS", "param": "{not json"},
                max_async_retry_attempts=1,
                max_async_event_age_in_seconds=60,
            ),
        ],
    )
    estate.add_function(PROJECT, make_function_item(REGION, PROJECT, "billing", "gamma"), [])
    dis = make_destination("DIS", {"stream_name": "billing-events"})
    estate.add_function(
        PROJECT,
        make_function_item(REGION, PROJECT, "billing", "delta"),
        [
            make_config_item(DELTA, "latest", on_success=dis, on_failure=dis),
            make_config_item(DELTA, "v1", on_success=dis, on_failure=smn),
            make_config_item(DELTA, "v2", on_success=smn, max_async_retry_attempts=0),
            make_config_item(DELTA, "v3", on_failure=obs, enable_async_status_log=False),
            make_config_item(DELTA, "!blue", on_success=to_beta, on_failure=to_beta),
        ],
    )
    return estate


REGION_B = "ap-southeast-3"
PROJECT_B = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
OMEGA = function_urn(REGION_B, PROJECT_B, "default", "omega")


def two_project_estate() -> Estate:
    """The small estate (9 configs) plus a second region's project with one function, 2 configs."""
    estate = small_estate()
    estate.add_project(REGION_B, PROJECT_B)
    estate.add_function(
        PROJECT_B,
        make_function_item(REGION_B, PROJECT_B, "default", "omega"),
        [make_config_item(OMEGA, "latest"), make_config_item(OMEGA, "!prod")],
    )
    return estate
