"""The sandbox's estate model, item builders and seeded generator."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from pipelines.sandbox import (
    ABSENT,
    DEFAULT_PROJECT_ID,
    DEFAULT_REGION,
    Estate,
    generate_estate,
    make_config_item,
    make_destination,
    make_function_item,
    unqualified_urn,
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
