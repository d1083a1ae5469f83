"""The estate the policy tests assert against: the small estate plus a loop and a dangling,
over-retrying config, so that every packaged rule has something to find."""

from __future__ import annotations

from pipelines.sandbox import Estate, function_urn, make_config_item, make_destination
from pipelines.sandbox import make_function_item as function_item
from tests.support.estates import PROJECT, REGION, small_estate

EPSILON = function_urn(REGION, PROJECT, "loop", "epsilon")
ZETA = function_urn(REGION, PROJECT, "loop", "zeta")
ETA = function_urn(REGION, PROJECT, "default", "eta")
GHOST = function_urn(REGION, PROJECT, "default", "ghost")  # never deployed
THETA = function_urn(REGION, PROJECT, "default", "theta")  # no agency
IOTA = function_urn(REGION, PROJECT, "default", "iota")  # disabled


def to(function: str) -> dict[str, str]:
    return make_destination("FunctionGraph", {"func_urn": f"{function}:latest"})


def policy_estate() -> Estate:
    estate = small_estate()
    obs = make_destination("OBS", {"bucket": "fgs-dead-letters"})
    for urn, name, target in ((EPSILON, "epsilon", ZETA), (ZETA, "zeta", EPSILON)):
        estate.add_function(
            PROJECT,
            function_item(REGION, PROJECT, "loop", name),
            [make_config_item(urn, "latest", on_failure=to(target))],
        )
    estate.add_function(
        PROJECT,
        function_item(REGION, PROJECT, "default", "eta"),
        [
            make_config_item(
                ETA, "latest", on_success=to(GHOST), on_failure=obs, max_async_retry_attempts=8
            )
        ],
    )
    estate.add_function(
        PROJECT,
        function_item(REGION, PROJECT, "default", "theta", xrole="", app_xrole=""),
        [make_config_item(THETA, "latest", on_failure=obs)],
    )
    estate.add_function(
        PROJECT,
        function_item(REGION, PROJECT, "default", "iota", strategy_config={"concurrency": 0}),
        [make_config_item(IOTA, "latest", on_failure=obs)],
    )
    return estate
