"""The sandbox's estate model, item builders and seeded generator."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from huaweicloudsdkcore.client import Client

from pipelines.sandbox import (
    ABSENT,
    DEFAULT_PROJECT_ID,
    DEFAULT_REGION,
    Estate,
    generate_estate,
    make_config_item,
    make_destination,
    make_function_item,
    tenant_secrets,
    unqualified_urn,
    user_data_text,
)

PID = "a" * 32
OTHER_PID = "b" * 32
REGION = "cn-north-4"
URN = f"urn:fss:{REGION}:{PID}:function:billing:invoice-render"


def _estate_with_one_function() -> Estate:
    estate = Estate()
    estate.add_function(
        PID,
        make_function_item(REGION, PID, "billing", "invoice-render"),
        [make_config_item(URN, "latest"), make_config_item(URN, "!prod")],
    )
    return estate


# -- builders ------------------------------------------------------------------------------------


def test_make_function_item_has_listfunctions_fields() -> None:
    item = make_function_item(REGION, PID, "billing", "invoice-render", runtime="Java11")
    assert item["func_urn"] == URN
    assert item["func_name"] == "invoice-render"
    assert item["namespace"] == PID
    assert item["package"] == "billing"
    assert item["runtime"] == "Java11"
    assert item["version"] == "latest"
    assert item["enterprise_project_id"] == "0"
    assert item["type"] == "v2"
    assert set(item) >= {"domain_id", "project_name", "timeout", "handler", "memory_size"}
    assert set(item) >= {"code_type", "code_filename", "code_size", "description", "last_modified"}


# The fields of the official SDK's `ListFunctionResult` (huaweicloudsdkfunctiongraph v2), but
# `gpu_memory`, which only GPU functions carry; then two the API serves beyond that model.
SDK_FUNCTION_FIELDS = {
    "resource_id", "func_urn", "func_name", "domain_id", "namespace", "project_name", "package",
    "runtime", "timeout", "handler", "memory_size", "cpu", "code_type", "code_url",
    "code_filename", "code_size", "user_data", "encrypted_user_data", "digest", "version",
    "image_name", "xrole", "app_xrole", "description", "last_modified", "func_vpc_id",
    "strategy_config", "extend_config", "initializer_handler", "initializer_timeout",
    "pre_stop_handler", "pre_stop_timeout", "enterprise_project_id", "long_time",
    "log_group_id", "log_stream_id", "type", "fail_count", "is_bridge_function",
    "bind_bridge_func_urns",
}  # fmt: skip
NEWER_FUNCTION_FIELDS = {"enable_dynamic_memory", "is_stateful_function"}
SECRET = re.compile(r"tenant-secret-[0-9a-f]{24}")


def _sdk_datetime(raw: str) -> Any:
    """What the official SDK makes of a `last_modified` (typed datetime): a str if it fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Client._deserialize_data_time(raw)


def test_make_function_item_is_a_full_sdk_item() -> None:
    item = make_function_item(REGION, PID, "billing", "invoice-render")
    assert set(item) == SDK_FUNCTION_FIELDS | NEWER_FUNCTION_FIELDS
    assert item["last_modified"] == "2024-03-04 14:50:02"  # the documented naive format
    assert isinstance(_sdk_datetime(item["last_modified"]), datetime)
    assert (item["cpu"], item["type"], item["is_bridge_function"]) == (300, "v2", False)
    assert item["strategy_config"] == {"concurrency": -1, "concurrent_num": 1}
    assert re.fullmatch(r"[0-9a-f]{128}", item["digest"])
    assert isinstance(json.loads(item["extend_config"]), dict)
    env = json.loads(item["user_data"])
    encrypted = json.loads(item["encrypted_user_data"])
    assert set(env) == {"DB_HOST", "DB_PASSWORD"} and set(encrypted) == {"API_KEY"}
    assert SECRET.fullmatch(env["DB_PASSWORD"]) and SECRET.fullmatch(encrypted["API_KEY"])
    # Derived from the URN: stable, and never shared between functions.
    assert make_function_item(REGION, PID, "billing", "invoice-render") == item
    other = make_function_item(REGION, PID, "billing", "other")
    assert other["user_data"] != item["user_data"] and other["resource_id"] != item["resource_id"]


def test_make_function_item_env_and_cpu_overrides() -> None:
    item = make_function_item(
        REGION,
        PID,
        "default",
        "f",
        user_data={"TOKEN": "t-1", "ÜBER": "ü"},
        encrypted_user_data="{not json",
        memory_size=1024,
    )
    assert (
        item["user_data"]
        == '{"TOKEN":"t-1","ÜBER":"ü"}'
        == user_data_text(json.loads(item["user_data"]))
    )
    assert item["encrypted_user_data"] == "{not json"  # strings are served verbatim
    assert item["cpu"] == 1000  # follows memory_size unless given
    assert make_function_item(REGION, PID, "default", "f", memory_size=512, cpu=7)["cpu"] == 7
    assert "xrole" not in make_function_item(REGION, PID, "default", "f", xrole=ABSENT)


def test_tenant_secrets() -> None:
    estate = Estate()
    estate.add_function(
        PID,
        make_function_item(
            REGION,
            PID,
            "default",
            "a",
            user_data={"K": "v-1", "E": "", "N": 5},
            encrypted_user_data="",
        ),
    )
    estate.add_function(
        PID,
        make_function_item(
            REGION, PID, "default", "b", user_data="{broken", encrypted_user_data={"S": "v-2"}
        ),
    )
    estate.add_function(
        PID,
        make_function_item(REGION, PID, "default", "c", user_data=ABSENT, encrypted_user_data=None),
    )
    assert tenant_secrets(estate) == {"v-1", "{broken", "v-2"}


def test_absent_override_removes_key() -> None:
    item = make_function_item(REGION, PID, "default", "f", description=ABSENT)
    assert "description" not in item
    config = make_config_item(
        URN, "latest", enable_async_status_log=ABSENT, destination_config=None
    )
    assert "enable_async_status_log" not in config
    assert config["destination_config"] is None


def test_make_config_item_qualifies_and_encodes_param() -> None:
    item = make_config_item(
        URN,
        "v20240101-120000",
        on_failure=make_destination("SMN", {"topic_urn": f"urn:smn:{REGION}:{PID}:alerts"}),
        new_field="x",
    )
    assert item["func_urn"] == f"{URN}:v20240101-120000"
    assert item["destination_config"] == {
        "on_failure": {
            "destination": "SMN",
            "param": f'{{"topic_urn":"urn:smn:{REGION}:{PID}:alerts"}}',
        }
    }
    assert item["new_field"] == "x"
    assert item["last_modified"] == "2021-03-04 14:50:02"
    assert item["created_time"] == "2021-03-04T14:50:02+08:00"


def test_make_destination_keeps_raw_string_param() -> None:
    assert make_destination("OBS", '{"bucket": ') == {"destination": "OBS", "param": '{"bucket": '}
    assert json.loads(make_destination("OBS", {"bucket": "账单"})["param"]) == {"bucket": "账单"}


@pytest.mark.parametrize(
    ("urn", "expected"),
    [
        (URN, URN),
        (f"{URN}:latest", URN),
        (f"{URN}:!prod", URN),
        (f"{URN}:v20240101-120000", URN),
    ],
)
def test_unqualified_urn(urn: str, expected: str) -> None:
    assert unqualified_urn(urn) == expected


def test_unqualified_urn_rejects_non_urn() -> None:
    with pytest.raises(ValueError):
        unqualified_urn("urn:fss:too:short")


# -- mutations ------------------------------------------------------------------------------------


def test_add_function_creates_project_and_copies_input() -> None:
    item = make_function_item(REGION, PID, "billing", "invoice-render")
    configs = [make_config_item(URN, "latest")]
    estate = Estate()
    estate.add_function(PID, item, configs)
    item["runtime"] = "changed"
    configs[0]["max_async_retry_attempts"] = 99
    project = estate.projects[PID]
    assert project.region == REGION
    assert project.functions[URN]["runtime"] == "Python3.9"
    assert project.configs[URN][0]["max_async_retry_attempts"] == 3


def test_add_function_rejects_duplicates_and_foreign_items() -> None:
    estate = _estate_with_one_function()
    with pytest.raises(ValueError, match="already exists"):
        estate.add_function(PID, make_function_item(REGION, PID, "billing", "invoice-render"))
    with pytest.raises(ValueError):
        estate.add_function(OTHER_PID, make_function_item(REGION, PID, "billing", "other"))
    other = f"urn:fss:{REGION}:{PID}:function:billing:other"
    with pytest.raises(ValueError, match="does not belong"):
        estate.add_function(
            PID,
            make_function_item(REGION, PID, "billing", "other"),
            [make_config_item(URN, "latest")],
        )
    assert other not in estate.projects[PID].functions  # nothing half-added


def test_function_urns_are_sorted() -> None:
    estate = Estate()
    for name in ("zeta", "alpha", "mid"):
        estate.add_function(PID, make_function_item(REGION, PID, "default", name))
    assert estate.function_urns(PID) == [
        f"urn:fss:{REGION}:{PID}:function:default:{n}" for n in ("alpha", "mid", "zeta")
    ]


def test_remove_function_drops_its_configs() -> None:
    estate = _estate_with_one_function()
    estate.remove_function(URN)
    assert estate.function_urns(PID) == []
    assert URN not in estate.projects[PID].configs
    assert estate.configs(URN) is None
    with pytest.raises(KeyError):
        estate.remove_function(URN)


def test_set_configs_foreign_ok_serves_a_config_under_another_function() -> None:
    estate = _estate_with_one_function()
    other = f"urn:fss:{REGION}:{PID}:function:billing:other"
    estate.add_function(PID, make_function_item(REGION, PID, "billing", "other"))
    foreign = make_config_item(URN, "latest")
    with pytest.raises(ValueError, match="does not belong"):
        estate.set_configs(other, [foreign])
    estate.set_configs(other, [foreign], foreign_ok=True)
    assert estate.configs(other) == [foreign]
    assert (estate.configs(URN) or [])[0] == foreign  # still served under its own function too


def test_set_configs_replaces_in_order() -> None:
    estate = _estate_with_one_function()
    estate.set_configs(URN, [make_config_item(URN, "!b"), make_config_item(URN, "!a")])
    assert [c["func_urn"] for c in estate.configs(URN) or []] == [f"{URN}:!b", f"{URN}:!a"]
    with pytest.raises(ValueError):
        estate.set_configs(URN, [make_config_item(URN.replace("invoice", "x"), "latest")])
    with pytest.raises(KeyError):
        estate.set_configs(URN.replace("invoice", "x"), [])


def test_upsert_config_replaces_in_place_or_appends() -> None:
    estate = _estate_with_one_function()
    estate.upsert_config(make_config_item(URN, "latest", max_async_retry_attempts=0))
    estate.upsert_config(make_config_item(URN, "v2"))
    configs = estate.configs(URN) or []
    assert [c["func_urn"] for c in configs] == [f"{URN}:latest", f"{URN}:!prod", f"{URN}:v2"]
    assert configs[0]["max_async_retry_attempts"] == 0
    with pytest.raises(KeyError):
        estate.upsert_config(make_config_item(URN.replace("invoice", "x"), "latest"))


def test_delete_config() -> None:
    estate = _estate_with_one_function()
    estate.delete_config(f"{URN}:!prod")
    assert [c["func_urn"] for c in estate.configs(URN) or []] == [f"{URN}:latest"]
    with pytest.raises(KeyError):
        estate.delete_config(f"{URN}:!prod")


def test_copy_is_deep_and_equal() -> None:
    estate = _estate_with_one_function()
    clone = estate.copy()
    assert clone == estate
    assert clone.lock is not estate.lock
    clone.projects[PID].configs[URN][0]["max_async_retry_attempts"] = 7
    clone.delete_config(f"{URN}:!prod")
    assert clone != estate
    assert len(estate.configs(URN) or []) == 2
    assert (estate.configs(URN) or [])[0]["max_async_retry_attempts"] == 3


# -- generator ------------------------------------------------------------------------------------


def test_generator_is_deterministic() -> None:
    first = generate_estate(seed=11)
    assert first == generate_estate(seed=11)
    assert first != generate_estate(seed=12)
    # Bytes too, not just equality: the demo's data must be reproducible exactly.
    assert json.dumps(first.to_dict()) == json.dumps(generate_estate(seed=11).to_dict())


# sha256 of `generate_estate(**case).to_dict()` (JSON, sorted keys) before function items got the
# SDK's fields and the naive `last_modified`: the new fields must not move the shared RNG.
LEGACY_DIGESTS = [
    ({"seed": 7}, "500e2ea1ded7ddb86cd4ad573ef12a9998e06f9ac577eae2276fc86cc8f7b1da"),
    (
        {"seed": 21, "functions_per_project": 30},
        "25c61a8dab9963cc0db9ec5c48a684f86a93524b57ca10cb3f8d0ffeed722800",
    ),
    (
        {
            "seed": 4,
            "projects": ((REGION, PID), ("ap-southeast-1", OTHER_PID)),
            "functions_per_project": 15,
        },
        "1da21e8faaff52843cf1c1e0e1d1bc3047dd1672c1eae811093e057a3a21d43f",
    ),
    (
        {"seed": 5, "functions_per_project": 60, "mess": False},
        "a56a83f0ae1c9e795c1bacae7c8515c67ea9d24f283c4055a6f832973d9f33e2",
    ),
    (
        {"seed": 99, "functions_per_project": 200},
        "74f3904a327ca42ff1792b43e3cabce62565d9f0fffcc0f2305f78a172e16de3",
    ),
]
LEGACY_FUNCTION_FIELDS = {
    "func_urn", "func_name", "domain_id", "namespace", "project_name", "package", "runtime",
    "timeout", "handler", "memory_size", "code_type", "code_filename", "code_size", "version",
    "description", "last_modified", "enterprise_project_id", "type", "new_field",
}  # fmt: skip


@pytest.mark.parametrize(("case", "digest"), LEGACY_DIGESTS)
def test_generator_keeps_the_legacy_estate(case: dict[str, Any], digest: str) -> None:
    snapshot = generate_estate(**case).to_dict()
    for project in snapshot.values():
        for item in project["functions"].values():
            for key in set(item) - LEGACY_FUNCTION_FIELDS:
                del item[key]
            item["last_modified"] = item["last_modified"].replace(" ", "T") + "+08:00"
    text = json.dumps(snapshot, sort_keys=True, ensure_ascii=False)
    assert hashlib.sha256(text.encode()).hexdigest() == digest


def test_generated_functions_are_full_sdk_items() -> None:
    estate = generate_estate(seed=7, functions_per_project=80)
    functions = estate.functions(DEFAULT_PROJECT_ID)
    for item in functions:
        assert set(item) - {"xrole", "app_xrole", "new_field"} == (
            SDK_FUNCTION_FIELDS | NEWER_FUNCTION_FIELDS
        ) - {"xrole", "app_xrole"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item["last_modified"])
        assert isinstance(_sdk_datetime(item["last_modified"]), datetime)
        assert isinstance(item["cpu"], int) and item["cpu"] >= 300
        assert re.fullmatch(r"[0-9a-f]{128}", item["digest"])
        assert item["strategy_config"]["concurrency"] in (-1, 0, 10, 100)
        assert isinstance(item["strategy_config"]["concurrent_num"], int)
        assert isinstance(json.loads(item["extend_config"]), dict)
        assert item["type"] == "v2" and item["is_bridge_function"] is False
        env = json.loads(item["user_data"])
        assert "DB_HOST" in env and any(SECRET.fullmatch(v) for v in env.values())
        assert all(SECRET.fullmatch(v) for v in json.loads(item["encrypted_user_data"]).values())
    # Variety: some agencies absent or empty, most VPC ids empty, some encrypted variables.
    assert any("xrole" not in f for f in functions)
    assert any(f.get("xrole") == "" for f in functions)
    assert any(f.get("xrole") for f in functions)
    assert 0 < sum(f["func_vpc_id"] != "" for f in functions) < len(functions) / 2
    assert any(json.loads(f["encrypted_user_data"]) for f in functions)
    assert {f["strategy_config"]["concurrency"] for f in functions} >= {-1, 0}


def test_generated_secrets_are_distinct_and_seeded() -> None:
    estate = generate_estate(seed=7)
    secrets = tenant_secrets(estate)
    values = [
        value
        for item in estate.functions(DEFAULT_PROJECT_ID)
        for key in ("user_data", "encrypted_user_data")
        for value in json.loads(item[key]).values()
    ]
    assert len(values) == len(set(values)) == len(secrets)  # no two variables share a value
    assert sum(bool(SECRET.fullmatch(v)) for v in secrets) >= 40
    assert all(re.search(r"[0-9a-f]{12}", v) for v in secrets)  # none is a common word
    assert tenant_secrets(generate_estate(seed=7)) == secrets
    assert not tenant_secrets(generate_estate(seed=8)) & secrets


def test_generator_defaults() -> None:
    estate = generate_estate()
    assert list(estate.projects) == [DEFAULT_PROJECT_ID]
    assert estate.projects[DEFAULT_PROJECT_ID].region == DEFAULT_REGION
    assert len(estate.function_urns(DEFAULT_PROJECT_ID)) == 40


def _configs(estate: Estate) -> list[dict[str, Any]]:
    return estate.all_configs()


def _sides(estate: Estate) -> list[dict[str, Any]]:
    return [
        side
        for c in _configs(estate)
        if isinstance(c.get("destination_config"), dict)
        for side in c["destination_config"].values()
    ]


def _param(side: dict[str, Any]) -> Any:
    try:
        return json.loads(side.get("param", ""))
    except ValueError:
        return None


def _dc(config: dict[str, Any]) -> Any:
    return config.get("destination_config")


_TARGET_KEYS = {
    "OBS": "bucket",
    "SMN": "topic_urn",
    "DIS": "stream_name",
    "FunctionGraph": "func_urn",
}

MESS_DETECTORS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "only_on_success": lambda c: isinstance(_dc(c), dict) and set(_dc(c)) == {"on_success"},
    "only_on_failure": lambda c: isinstance(_dc(c), dict) and set(_dc(c)) == {"on_failure"},
    "destination_config_empty": lambda c: _dc(c) == {},
    "destination_config_absent": lambda c: "destination_config" not in c,
    "destination_config_null": lambda c: "destination_config" in c and _dc(c) is None,
    "side_empty": lambda c: isinstance(_dc(c), dict) and {} in _dc(c).values(),
    "param_invalid_json": lambda c: any(s.get("param") and _param(s) is None for s in _dc_sides(c)),
    "param_missing_target_key": lambda c: any(
        isinstance(_param(s), dict) and _TARGET_KEYS.get(s["destination"], "?") not in _param(s)
        for s in _dc_sides(c)
        if s.get("destination") in _TARGET_KEYS
    ),
    "param_whitespace_unicode": lambda c: any(
        _param(s) is not None and s["param"] != s["param"].strip() and not s["param"].isascii()
        for s in _dc_sides(c)
    ),
    "param_empty_string": lambda c: any(s.get("param") == "" for s in _dc_sides(c)),
    "unknown_destination": lambda c: any(
        s.get("destination") not in _TARGET_KEYS for s in _dc_sides(c)
    ),
    "last_modified_naive": lambda c: len(c["last_modified"]) == 19 and " " in c["last_modified"],
    "last_modified_offset": lambda c: c["last_modified"][-6] in "+-" and "T" in c["last_modified"],
    "created_time_z": lambda c: c["created_time"].endswith("Z"),
    "retry_attempts_high": lambda c: c["max_async_retry_attempts"] == 9,
    "retry_attempts_negative": lambda c: c["max_async_retry_attempts"] == -1,
    "event_age_zero": lambda c: c["max_async_event_age_in_seconds"] == 0,
    "event_age_high": lambda c: c["max_async_event_age_in_seconds"] == 90000,
    "status_log_absent": lambda c: "enable_async_status_log" not in c,
    "extra_field": lambda c: c.get("new_field") == "x",
}


def _dc_sides(config: dict[str, Any]) -> list[dict[str, Any]]:
    dc = _dc(config)
    if not isinstance(dc, dict):
        return []
    return [s for s in dc.values() if isinstance(s, dict) and s]


@pytest.mark.parametrize(
    ("functions", "configs_per_function", "seed"),
    [(40, (1, 4), 7), (12, (1, 4), 1), (12, (0, 0), 2), (12, (1, 1), 3), (200, (1, 4), 99)],
)
def test_mess_covers_every_kind(
    functions: int, configs_per_function: tuple[int, int], seed: int
) -> None:
    estate = generate_estate(
        seed=seed, functions_per_project=functions, configs_per_function=configs_per_function
    )
    configs = _configs(estate)
    missing = [kind for kind, found in MESS_DETECTORS.items() if not any(found(c) for c in configs)]
    assert missing == []
    functions_items = estate.functions(DEFAULT_PROJECT_ID)
    assert any(f.get("new_field") == "x" for f in functions_items)


def test_clean_estate_has_no_mess() -> None:
    estate = generate_estate(seed=5, functions_per_project=60, mess=False)
    configs = _configs(estate)
    assert configs
    for config in configs:
        assert set(_dc(config)) == {"on_success", "on_failure"}
        for side in _dc(config).values():
            assert isinstance(_param(side), dict)
            assert _TARGET_KEYS[side["destination"]] in _param(side)
            assert side["param"] == side["param"].strip()
        assert 0 <= config["max_async_retry_attempts"] <= 3
        assert 60 <= config["max_async_event_age_in_seconds"] <= 86400
        assert isinstance(config["enable_async_status_log"], bool)
        assert "new_field" not in config
        assert len(config["last_modified"]) == 19
        assert config["created_time"].endswith("+08:00")
        assert config["last_modified"].replace(" ", "T") >= config["created_time"][:19]
    assert not any(f.get("new_field") for f in estate.functions(DEFAULT_PROJECT_ID))


def test_generator_realism() -> None:
    estate = generate_estate(seed=7)
    urns = estate.function_urns(DEFAULT_PROJECT_ID)
    configs = _configs(estate)
    assert len({urn.split(":")[5] for urn in urns}) >= 4  # several packages
    assert any(estate.configs(urn) == [] for urn in urns)  # some functions have none
    qualifiers = [c["func_urn"].split(":")[7] for c in configs]
    assert "latest" in qualifiers
    assert any(q.startswith("!") for q in qualifiers)
    assert any(q.startswith("v") and len(q) == len("v20240101-120000") for q in qualifiers)
    for config in configs:
        assert unqualified_urn(config["func_urn"]) in urns
    assert {s.get("destination") for s in _sides(estate)} >= {"OBS", "SMN", "DIS", "FunctionGraph"}


def _function_edges(estate: Estate) -> set[tuple[str, str]]:
    edges = set()
    for config in _configs(estate):
        for side in _dc_sides(config):
            param = _param(side)
            if side.get("destination") == "FunctionGraph" and isinstance(param, dict):
                edges.add((unqualified_urn(config["func_urn"]), unqualified_urn(param["func_urn"])))
    return edges


@pytest.mark.parametrize("mess", [True, False])
def test_function_targets_include_cycle_dangling_and_foreign(mess: bool) -> None:
    estate = generate_estate(seed=3, functions_per_project=12, mess=mess)
    urns = set(estate.function_urns(DEFAULT_PROJECT_ID))
    edges = _function_edges(estate)
    assert any((b, a) in edges for a, b in edges if a != b)  # an A→B→A cycle
    targets = {b for _, b in edges}
    same_project = {t for t in targets if t.split(":")[3] == DEFAULT_PROJECT_ID}
    assert same_project - urns  # a target that does not exist
    assert any(t.split(":")[3] != DEFAULT_PROJECT_ID for t in targets)  # another project


def test_cross_project_targets_point_at_real_functions() -> None:
    projects = ((REGION, PID), ("ap-southeast-1", OTHER_PID))
    estate = generate_estate(seed=4, projects=projects, functions_per_project=15)
    all_urns = set(estate.function_urns(PID)) | set(estate.function_urns(OTHER_PID))
    foreign = {(a, b) for a, b in _function_edges(estate) if a.split(":")[3] != b.split(":")[3]}
    assert foreign
    assert {b for _, b in foreign} <= all_urns
    assert estate.projects[OTHER_PID].region == "ap-southeast-1"


def test_generator_small_and_empty_projects() -> None:
    assert generate_estate(functions_per_project=0).function_urns(DEFAULT_PROJECT_ID) == []
    tiny = generate_estate(functions_per_project=2)
    assert len(tiny.function_urns(DEFAULT_PROJECT_ID)) == 2
    with pytest.raises(ValueError):
        generate_estate(configs_per_function=(3, 1))
