"""An estate on which every reporting view has rows, for comparing the views between databases.

Three projects are loaded (P and Q in one region, R in another); Z is never loaded. P's
FunctionGraph edges (source -> unqualified target) give:
    a -> b -> a                       a 2-cycle
    c -> d -> e -> c                  a 3-cycle
    f -> f                            a function sending to itself
    r01 -> r02 -> ... -> r11 -> r01   a loop of 11 functions (not spelled out: `longer_loops`),
    r06 -> r01                        with a chord that makes a 6-cycle inside the same group
    d -> ghost                        a function that never existed
    h -> R's remote -> h              a 2-cycle across regions (R's remote has the smaller URN)
    f -> Q's remote                   live, but in another project
    f -> faraway                      another region and project, never loaded
    h -> doomed                       a function that `remove_doomed` deletes before a later run
The configs of `mess` serve every kind of data-quality issue; `idle` serves a memory size beyond
64 bits, Q's `borrower` serves Q's remote:latest too, and `add_shadowed_row` writes a second live
row for a:latest, as an older connector version could have.
"""

from __future__ import annotations

from typing import Any

from pipelines.sandbox import (
    ABSENT,
    Estate,
    function_urn,
    make_config_item,
    make_destination,
    make_function_item,
)
from tests.support.estates import PROJECT, REGION

P = PROJECT
Q = "d4e5f60718293a4b5c6d7e8f90a1b2c3"
R = "e5f60718293a4b5c6d7e8f90a1b2c3d4"  # in OTHER_REGION, loaded
Z = "f60718293a4b5c6d7e8f90a1b2c3d4e5"  # in OTHER_REGION, never loaded
OTHER_REGION = "cn-east-3"
SCOPES = [(REGION, P), (REGION, Q), (OTHER_REGION, R)]
"""The scopes to load, in order; load P again after `remove_doomed` to see a deletion."""


def urn(package: str, name: str, project: str = P, region: str = REGION) -> str:
    return function_urn(region, project, package, name)


A, B, F, H, MESS, IDLE = (urn("default", n) for n in ("a", "b", "f", "h", "mess", "idle"))
C, D, E, DOOMED = (urn("billing", n) for n in ("c", "d", "e", "doomed"))
RING = [urn("ring", f"r{i:02d}") for i in range(1, 12)]
GHOST = urn("billing", "ghost")
REMOTE_Q = urn("default", "remote", Q)
REMOTE_R = urn("default", "remote", R, OTHER_REGION)
FARAWAY = urn("default", "faraway", Z, OTHER_REGION)
TOPIC_P = f"urn:smn:{REGION}:{P}:alerts"
TOPIC_Q = f"urn:smn:{REGION}:{Q}:alerts"
TOPIC_OTHER_REGION = f"urn:smn:{OTHER_REGION}:{P}:alerts"


def fg(target: str) -> dict[str, Any]:
    return make_destination("FunctionGraph", {"func_urn": target})


def smn(topic: str) -> dict[str, Any]:
    return make_destination("SMN", {"topic_urn": topic})


def obs(param: dict[str, Any]) -> dict[str, Any]:
    return make_destination("OBS", param)


def config(function: str, qualifier: str, **fields: Any) -> dict[str, Any]:
    """A config as the API serves it: last_modified naive (no issue), created_time with offset."""
    return make_config_item(function, qualifier, **fields)


def function(function_urn_: str, **fields: Any) -> dict[str, Any]:
    _, _, region, project, _, package, name = function_urn_.split(":")
    return make_function_item(region, project, package, name, **fields)


def ring_configs() -> dict[str, list[dict[str, Any]]]:
    """r01 -> ... -> r11 -> r01, and r06:v1 -> r01 (a 6-cycle r01 .. r06 on the 11-loop)."""
    configs = {
        source: [config(source, "latest", on_success=fg(f"{target}:latest"))]
        for source, target in zip(RING, [*RING[1:], RING[0]], strict=True)
    }
    configs[RING[5]].append(config(RING[5], "v1", on_failure=fg(RING[0])))
    return configs


def mess_configs() -> list[dict[str, Any]]:
    """One config per kind of data-quality issue (and values that are no issue any more)."""
    logs = obs({"bucket": "logs", "prefix": "a/", "expires": 7})
    twice = config(MESS, "v9", on_success=logs)
    return [
        config(
            MESS,
            "latest",
            on_success={"destination": "DIS", "param": "{not json"},
            on_failure=make_destination("Kafka", {"topic": "t"}),
            created_time="yesterday",
            new_field="x",
            Zeta=1,
            **{"größe": {"nested": [1, 2]}},
        ),
        config(
            MESS,
            "v1",
            on_success=obs({"prefix": "x/"}),
            on_failure=smn("alerts"),
            max_async_retry_attempts=ABSENT,
            max_async_event_age_in_seconds=ABSENT,
        ),
        config(MESS, "v2", on_success={"param": '{"bucket":"b"}'}, on_failure=fg("not-a-urn")),
        config(MESS, "!", on_success=logs, on_failure=logs),
        # 5 retries: more than a house rule may like, but inside the API's range (no issue)
        config(
            MESS, "v3", max_async_retry_attempts=5, on_success=obs({"expires": 400, "bucket": "b"})
        ),
        config(MESS, "v4", max_async_retry_attempts=9, max_async_event_age_in_seconds=30),
        config(MESS, "v5", max_async_event_age_in_seconds=0),
        config(MESS, "v6", max_async_event_age_in_seconds=90000),
        config(MESS, "v7", max_async_retry_attempts=99999999999999999999),
        config(MESS, "v8", **{"note\ud800": "x\udc00", "a\x00b": 1}),
        twice,
        twice,  # served twice by its function: kept once, noted
    ]


def reporting_estate() -> Estate:
    estate = Estate()
    configs: dict[str, list[dict[str, Any]]] = {
        A: [config(A, "latest", on_failure=fg(f"{B}:latest"))],
        B: [config(B, "latest", on_success=fg(A), on_failure=smn(TOPIC_OTHER_REGION))],
        C: [config(C, "latest", on_success=fg(f"{D}:!prod"), on_failure=smn(TOPIC_Q))],
        D: [
            config(D, "latest", on_failure=fg(E)),
            config(D, "v1", on_success=fg(f"{GHOST}:latest"), on_failure=smn(TOPIC_P)),
        ],
        E: [config(E, "v1", on_failure=fg(f"{C}:latest"))],
        F: [
            config(F, "latest", on_success=fg(f"{REMOTE_Q}:latest"), on_failure=fg(f"{F}:v1")),
            config(F, "v1", on_success=fg(f"{FARAWAY}:latest")),
        ],
        H: [config(H, "latest", on_success=fg(f"{REMOTE_R}:!prod"), on_failure=fg(DOOMED))],
        DOOMED: [config(DOOMED, "latest")],
        MESS: mess_configs(),
        IDLE: [],
        **ring_configs(),
    }
    for owner, items in configs.items():
        fields = {"memory_size": 99999999999999999999} if owner == IDLE else {}
        estate.add_function(P, function(owner, **fields), items)
    # a config URN served under a second function too (listed first, where it does not belong):
    # both copies are loaded, and the owner's is the current one
    estate.add_function(
        Q, function(REMOTE_Q), [config(REMOTE_Q, "latest", on_failure=smn(TOPIC_Q))]
    )
    estate.add_function(Q, function(urn("default", "borrower", Q)))
    estate.set_configs(urn("default", "borrower", Q), [config(REMOTE_Q, "latest")], foreign_ok=True)
    estate.add_function(R, function(REMOTE_R), [config(REMOTE_R, "!prod", on_failure=fg(H))])
    return estate


def remove_doomed(estate: Estate) -> None:
    """`doomed` is deleted: h's failure destination now names a function that went away."""
    estate.remove_function(DOOMED)


def add_shadowed_row(execute: Any) -> None:
    """A second live row for a:latest under another function_urn, in SQL both databases speak."""
    statements = [
        "create table functiongraph.shadow_copy as "
        "select * from functiongraph.async_invoke_configs "
        f"where func_urn = '{A}:latest' and _dlt_valid_to is null",
        "update functiongraph.shadow_copy set function_urn = 'urn:fss:x', _dlt_id = 'x' || _dlt_id",
        "insert into functiongraph.async_invoke_configs select * from functiongraph.shadow_copy",
        "drop table functiongraph.shadow_copy",
    ]
    for statement in statements:
        execute(statement)
