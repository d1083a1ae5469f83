from datetime import UTC, datetime

import pytest

from pipelines.functiongraph.shaping.records import (
    CONFIG_COLUMNS,
    EMPTY_MEANS_NONE,
    FUNCTION_COLUMNS,
    shape_config,
    shape_function,
)
from pipelines.functiongraph.shaping.urns import UrnError
from pipelines.sandbox.estate import make_function_item
from tests.support.api_items import (
    FUNCTION,
    FUNCTION_ITEM,
    ITEM,
    OBS_PARAM,
    PLUS_8,
    SCOPE,
    SIDE_SUFFIXES,
)

EXPECTED = {
    "func_urn": f"{FUNCTION}:latest",
    "function_urn": FUNCTION,
    "region": "cn-north-4",
    "project_id": "proj1",
    "package": "default",
    "function_name": "orders",
    "qualifier": "latest",
    "qualifier_kind": "latest",
    "urn_error": None,
    "max_async_event_age_in_seconds": 3600,
    "max_async_retry_attempts": 3,
    "enable_async_status_log": True,
    "on_success_destination": "OBS",
    "on_success_destination_known": True,
    "on_success_param": OBS_PARAM,
    "on_success_target": "async-logs",
    "on_success_target_function_urn": None,
    "on_success_target_region": None,
    "on_success_target_project_id": None,
    "on_success_prefix": "orders/",
    "on_success_expires": 30,
    "on_success_param_error": None,
    "on_failure_destination": "SMN",
    "on_failure_destination_known": True,
    "on_failure_param": '{"topic_urn":"urn:smn:r:p:t"}',
    "on_failure_target": "urn:smn:r:p:t",
    "on_failure_target_function_urn": None,
    "on_failure_target_region": "r",
    "on_failure_target_project_id": "p",
    "on_failure_prefix": None,
    "on_failure_expires": None,
    "on_failure_param_error": None,
    "created_time": datetime(2021, 3, 4, 6, 50, 2, tzinfo=UTC),
    "created_time_raw": "2021-03-04T14:50:02+08:00",
    "last_modified": datetime(2021, 3, 4, 6, 50, 2, tzinfo=UTC),
    "last_modified_raw": "2021-03-04 14:50:02",
    "extra_fields": None,
    "value_error": None,
    "duplicate_note": None,
    "row_version": None,  # set when the row is sent (see test_changes)
}


def shape(item: dict[str, object]) -> dict[str, object]:
    return shape_config(item, **SCOPE, naive_zone=PLUS_8)


def test_shape_config_documented_example() -> None:
    row = shape(ITEM)
    assert row == EXPECTED
    assert list(row) == list(EXPECTED)


def _without(*keys: str) -> dict[str, object]:
    return {key: value for key, value in ITEM.items() if key not in keys}


NO_DESTINATIONS = {
    f"{side}_{suffix}": None for side in ("on_success", "on_failure") for suffix in SIDE_SUFFIXES
}


@pytest.mark.parametrize(
    ("item", "changes"),
    [
        # qualifiers
        (
            {**ITEM, "func_urn": f"{FUNCTION}:v20240101-120000"},
            {
                "func_urn": f"{FUNCTION}:v20240101-120000",
                "qualifier": "v20240101-120000",
                "qualifier_kind": "version",
            },
        ),
        (
            {**ITEM, "func_urn": f"{FUNCTION}:!prod"},
            {"func_urn": f"{FUNCTION}:!prod", "qualifier": "!prod", "qualifier_kind": "alias"},
        ),
        (
            {**ITEM, "func_urn": FUNCTION},
            {"func_urn": FUNCTION, "qualifier": None, "qualifier_kind": None},
        ),
        # a URN that cannot be read, or belongs to another function: scope parts and a reason
        (
            {**ITEM, "func_urn": f"{FUNCTION}:!"},
            {
                "func_urn": f"{FUNCTION}:!",
                "qualifier": None,
                "qualifier_kind": None,
                "urn_error": f"invalid function URN '{FUNCTION}:!': alias after '!' is empty",
            },
        ),
        (
            {**ITEM, "func_urn": "urn:fss:cn-north-4:proj1:function:default:billing:latest"},
            {
                "func_urn": "urn:fss:cn-north-4:proj1:function:default:billing:latest",
                "qualifier": None,
                "qualifier_kind": None,
                "urn_error": "func_urn 'urn:fss:cn-north-4:proj1:function:default:billing:latest'"
                f" does not belong to function '{FUNCTION}'",
            },
        ),
        (
            {**ITEM, "func_urn": "orders"},
            {
                "func_urn": "orders",
                "qualifier": None,
                "qualifier_kind": None,
                "urn_error": "invalid function URN 'orders': does not start with 'urn:fss:'",
            },
        ),
        # numbers: stored as served when integral, out of range or not; bool is not a number
        (
            {**ITEM, "max_async_retry_attempts": True},
            {
                "max_async_retry_attempts": None,
                "value_error": "max_async_retry_attempts true is not an integer",
            },
        ),
        # beyond 64 bits: NULL, with the raw value quoted in the reason
        (
            {
                **ITEM,
                "max_async_retry_attempts": 99999999999999999999,
                "max_async_event_age_in_seconds": 1e30,
            },
            {
                "max_async_retry_attempts": None,
                "max_async_event_age_in_seconds": None,
                "value_error": "max_async_event_age_in_seconds 1e+30 does not fit in 64 bits; "
                "max_async_retry_attempts 99999999999999999999 does not fit in 64 bits",
            },
        ),
        (
            {
                **ITEM,
                "max_async_retry_attempts": 2**63 - 1,
                "max_async_event_age_in_seconds": -(2**63),
            },
            {"max_async_retry_attempts": 2**63 - 1, "max_async_event_age_in_seconds": -(2**63)},
        ),
        (
            {**ITEM, "max_async_retry_attempts": "9" * 5000},
            {
                "max_async_retry_attempts": None,
                "value_error": f"max_async_retry_attempts '{'9' * 56}... does not fit in 64 bits",
            },
        ),
        (
            {**ITEM, "max_async_retry_attempts": "2", "max_async_event_age_in_seconds": 3600.0},
            {"max_async_retry_attempts": 2, "max_async_event_age_in_seconds": 3600},
        ),
        (
            {**ITEM, "max_async_retry_attempts": 9, "max_async_event_age_in_seconds": 10},
            {"max_async_retry_attempts": 9, "max_async_event_age_in_seconds": 10},
        ),
        (
            {**ITEM, "max_async_retry_attempts": "three", "max_async_event_age_in_seconds": None},
            {
                "max_async_retry_attempts": None,
                "max_async_event_age_in_seconds": None,
                "value_error": "max_async_retry_attempts 'three' is not an integer",
            },
        ),
        (
            _without("max_async_retry_attempts", "max_async_event_age_in_seconds"),
            {"max_async_retry_attempts": None, "max_async_event_age_in_seconds": None},
        ),
        # enable_async_status_log: NULL when absent or not a bool, never a default
        (_without("enable_async_status_log"), {"enable_async_status_log": None}),
        ({**ITEM, "enable_async_status_log": False}, {"enable_async_status_log": False}),
        ({**ITEM, "enable_async_status_log": "true"}, {"enable_async_status_log": None}),
        ({**ITEM, "enable_async_status_log": 1}, {"enable_async_status_log": None}),
        # destinations missing or null
        (_without("destination_config"), NO_DESTINATIONS),
        ({**ITEM, "destination_config": None}, NO_DESTINATIONS),
        ({**ITEM, "destination_config": {"on_success": {}, "on_failure": None}}, NO_DESTINATIONS),
        # timestamps: absent, unreadable, numeric, already offset
        (
            _without("created_time", "last_modified"),
            {
                "created_time": None,
                "created_time_raw": None,
                "last_modified": None,
                "last_modified_raw": None,
            },
        ),
        (
            {**ITEM, "created_time": "yesterday", "last_modified": ""},
            {
                "created_time": None,
                "created_time_raw": "yesterday",
                "last_modified": None,
                "last_modified_raw": "",
            },
        ),
        (
            {**ITEM, "last_modified": 1614840602123},
            {
                "last_modified": datetime(2021, 3, 4, 6, 50, 2, 123000, tzinfo=UTC),
                "last_modified_raw": "1614840602123",
            },
        ),
        (
            {**ITEM, "last_modified": "2021-03-04T14:50:02Z"},
            {
                "last_modified": datetime(2021, 3, 4, 14, 50, 2, tzinfo=UTC),
                "last_modified_raw": "2021-03-04T14:50:02Z",
            },
        ),
        # fields the connector does not know are kept as JSON
        (
            {**ITEM, "zeta": 1, "alpha": {"b": [1, "二"], "a": None}},
            {"extra_fields": '{"alpha":{"a":null,"b":[1,"二"]},"zeta":1}'},
        ),
        ({**ITEM, "unknown": None}, {"extra_fields": '{"unknown":null}'}),
    ],
)
def test_shape_config(item: dict[str, object], changes: dict[str, object]) -> None:
    row = shape(item)
    assert row == {**EXPECTED, **changes}
    assert list(row) == list(CONFIG_COLUMNS)


def test_shape_config_naive_zone_is_configurable() -> None:
    row = shape_config(ITEM, **SCOPE, naive_zone=UTC)
    assert row["last_modified"] == datetime(2021, 3, 4, 14, 50, 2, tzinfo=UTC)
    assert row["created_time"] == EXPECTED["created_time"]


@pytest.mark.parametrize(
    "item",
    [{**ITEM, "func_urn": None}, {**ITEM, "func_urn": ""}, _without("func_urn")],
    ids=["null", "empty", "absent"],
)
def test_shape_config_without_identity_raises(item: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="async-invoke-config item has no func_urn"):
        shape(item)


def test_shape_config_rejects_a_broken_scope_urn() -> None:
    with pytest.raises(UrnError):
        shape_config(ITEM, **{**SCOPE, "function_urn": "orders"}, naive_zone=PLUS_8)


FUNCTION_EXPECTED = {
    "func_urn": FUNCTION,
    "func_name": "orders",
    "package": "default",
    "namespace": "proj1",
    "region": "cn-north-4",
    "project_id": "proj1",
    "runtime": "Python3.9",
    "handler": "index.handler",
    "memory_size": 256,
    "timeout": 30,
    "code_type": "inline",
    "version": "latest",
    "description": "",
    "enterprise_project_id": "0",
    "last_modified": datetime(2021, 3, 4, 6, 50, 2, tzinfo=UTC),
    "last_modified_raw": "2021-03-04 14:50:02",
    "environment_variable_names": "[]",
    "resource_id": None,
    "domain_id": None,
    "project_name": None,
    "cpu": 300,
    "gpu_memory": None,
    "code_filename": None,
    "code_url": None,
    "code_size": 1024,
    "digest": None,
    "image_name": None,
    "xrole": None,
    "app_xrole": None,
    "func_vpc_id": None,
    "strategy_config_concurrency": None,
    "strategy_config_concurrent_num": None,
    "initializer_handler": None,
    "initializer_timeout": None,
    "pre_stop_handler": None,
    "pre_stop_timeout": None,
    "long_time": None,
    "log_group_id": None,
    "log_stream_id": None,
    "type": None,
    "is_bridge_function": None,
    "enable_dynamic_memory": None,
    "is_stateful_function": None,
    "extra_fields": None,
    "value_error": None,
    "duplicate_note": None,
    "row_version": None,  # set when the row is sent (see test_changes)
}


@pytest.mark.parametrize(
    ("item", "changes"),
    [
        (FUNCTION_ITEM, {}),
        (
            {**FUNCTION_ITEM, "memory_size": "512", "timeout": True},
            {"memory_size": 512, "timeout": None, "value_error": "timeout true is not an integer"},
        ),
        (
            {"func_urn": FUNCTION},
            {
                **dict.fromkeys(FUNCTION_EXPECTED),
                "func_urn": FUNCTION,
                "region": "cn-north-4",
                "project_id": "proj1",
            },
        ),
        ({**FUNCTION_ITEM, "version": 3}, {"version": "3"}),
        # the SDK's fields: read as served
        (
            {
                **FUNCTION_ITEM,
                "resource_id": "7d471c13-3fd0-eb77-230f-250a784b53fd",
                "domain_id": "7c4f2a9e",
                "project_name": "cn-north-4",
                "gpu_memory": 1024,
                "code_filename": "index.py",
                "digest": "ab" * 64,
                "image_name": "latest-240304145002@48475",
                "initializer_timeout": 0,
                "pre_stop_timeout": "30",
                "long_time": False,
                "type": "v2",
                "fail_count": 3,
                "is_bridge_function": False,
                "enable_dynamic_memory": True,
                "is_stateful_function": False,
            },
            {
                "resource_id": "7d471c13-3fd0-eb77-230f-250a784b53fd",
                "domain_id": "7c4f2a9e",
                "project_name": "cn-north-4",
                "gpu_memory": 1024,
                "code_filename": "index.py",
                "digest": "ab" * 64,
                "image_name": "latest-240304145002@48475",
                "initializer_timeout": 0,
                "pre_stop_timeout": 30,
                "long_time": False,
                "type": "v2",
                "is_bridge_function": False,
                "enable_dynamic_memory": True,
                "is_stateful_function": False,
            },
        ),
        # ids and handlers: '' is the API's "none" and is stored as NULL; values as served
        (
            {**FUNCTION_ITEM, **dict.fromkeys(EMPTY_MEANS_NONE, "")},
            dict.fromkeys(EMPTY_MEANS_NONE),
        ),
        (
            {
                **FUNCTION_ITEM,
                "xrole": "fgs-async-agency",
                "app_xrole": "fgs-app-agency",
                "func_vpc_id": "0e5f6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
                "log_group_id": "lg-1",
                "log_stream_id": "ls-1",
                "initializer_handler": "index.init",
                "pre_stop_handler": "index.pre_stop",
                "code_url": "https://b.obs.cn-north-4.myhuaweicloud.com/orders.zip",
            },
            {
                "xrole": "fgs-async-agency",
                "app_xrole": "fgs-app-agency",
                "func_vpc_id": "0e5f6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
                "log_group_id": "lg-1",
                "log_stream_id": "ls-1",
                "initializer_handler": "index.init",
                "pre_stop_handler": "index.pre_stop",
                "code_url": "https://b.obs.cn-north-4.myhuaweicloud.com/orders.zip",
            },
        ),
        # only '' means none: other values, even blank or not text, are kept as served
        ({**FUNCTION_ITEM, "xrole": " ", "func_vpc_id": 0}, {"xrole": " ", "func_vpc_id": "0"}),
        ({**FUNCTION_ITEM, "xrole": None}, {}),
        # strategy_config
        (
            {**FUNCTION_ITEM, "strategy_config": {"concurrency": 0, "concurrent_num": 5}},
            {"strategy_config_concurrency": 0, "strategy_config_concurrent_num": 5},
        ),
        (
            {**FUNCTION_ITEM, "strategy_config": {"concurrency": "-1", "concurrent_num": 1.0}},
            {"strategy_config_concurrency": -1, "strategy_config_concurrent_num": 1},
        ),
        (
            {**FUNCTION_ITEM, "strategy_config": {"concurrency": 10}},
            {"strategy_config_concurrency": 10},
        ),
        ({**FUNCTION_ITEM, "strategy_config": {}}, {}),
        ({**FUNCTION_ITEM, "strategy_config": None}, {}),
        (
            {**FUNCTION_ITEM, "strategy_config": {"concurrency": True, "concurrent_num": "many"}},
            {
                "value_error": "strategy_config.concurrency true is not an integer; "
                "strategy_config.concurrent_num 'many' is not an integer"
            },
        ),
        # sub-fields without a column stay in extra_fields, under strategy_config
        (
            {**FUNCTION_ITEM, "strategy_config": {"concurrency": 1, "new_limit": {"a": 2}}},
            {
                "strategy_config_concurrency": 1,
                "extra_fields": '{"strategy_config":{"new_limit":{"a":2}}}',
            },
        ),
        # bool columns take only a JSON boolean
        (
            {**FUNCTION_ITEM, "long_time": "true", "is_bridge_function": 1},
            {"long_time": None, "is_bridge_function": None},
        ),
        # fields without a column are kept
        (
            {**FUNCTION_ITEM, "bind_bridge_funcUrns": [], "extend_config": "{}"},
            {"extra_fields": '{"bind_bridge_funcUrns":[],"extend_config":"{}"}'},
        ),
    ],
)
def test_shape_function(item: dict[str, object], changes: dict[str, object]) -> None:
    row = shape_function(item, region="cn-north-4", project_id="proj1", naive_zone=PLUS_8)
    assert row == {**FUNCTION_EXPECTED, **changes}
    assert list(row) == list(FUNCTION_COLUMNS)


def test_shape_function_typical_sandbox_item() -> None:
    """Every field of the SDK's ListFunctionResult the sandbox serves has a column but three."""
    item = make_function_item(
        "cn-north-4",
        "proj1",
        "default",
        "orders",
        xrole="fgs-async-agency",
        app_xrole="",
        func_vpc_id="0e5f6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
        log_group_id="",
        strategy_config={"concurrency": 0, "concurrent_num": 1},
    )
    row = shape_function(item, region="cn-north-4", project_id="proj1", naive_zone=PLUS_8)
    assert list(row) == list(FUNCTION_COLUMNS)
    new_columns = list(FUNCTION_COLUMNS)[
        list(FUNCTION_COLUMNS).index("environment_variable_names") + 1 : -4
    ]
    assert {name: row[name] for name in new_columns} == {
        "resource_id": item["resource_id"],
        "domain_id": "7c4f2a9e1b3d4f6a8c0e2b4d6f8a1c3e",
        "project_name": "cn-north-4",
        "cpu": 300,
        "gpu_memory": None,  # not served: only GPU functions have it
        "code_filename": "index.py",
        "code_url": None,
        "code_size": 1024,
        "digest": item["digest"],
        "image_name": item["image_name"],
        "xrole": "fgs-async-agency",
        "app_xrole": None,
        "func_vpc_id": "0e5f6a7b-1c2d-4e3f-8a9b-0c1d2e3f4a5b",
        "strategy_config_concurrency": 0,
        "strategy_config_concurrent_num": 1,
        "initializer_handler": None,
        "initializer_timeout": 0,
        "pre_stop_handler": None,
        "pre_stop_timeout": 0,
        "long_time": False,
        "log_group_id": None,
        "log_stream_id": None,
        "type": "v2",
        "is_bridge_function": False,
        "enable_dynamic_memory": False,
        "is_stateful_function": False,
    }
    # left: a list, JSON text the connector does not parse, and (as names only) the variables
    assert row["extra_fields"] == (
        '{"bind_bridge_func_urns":[],"extend_config":"{\\"enable_lts_log\\":false}"}'
    )
    assert row["environment_variable_names"] == '["API_KEY","DB_HOST","DB_PASSWORD"]'
    assert row["value_error"] is None


def test_every_empty_means_none_field_has_its_column() -> None:
    assert set(EMPTY_MEANS_NONE) <= set(FUNCTION_COLUMNS)
    for name in EMPTY_MEANS_NONE:
        column = FUNCTION_COLUMNS[name]
        assert column["data_type"] == "text"
        assert "NULL when none ('' served)" in str(column["description"])


def test_shape_function_without_identity_raises() -> None:
    with pytest.raises(ValueError, match="function item has no func_urn"):
        shape_function({"func_name": "x"}, region="r", project_id="p", naive_zone=PLUS_8)


@pytest.mark.parametrize(
    ("columns", "row"),
    [(CONFIG_COLUMNS, shape(ITEM)), (FUNCTION_COLUMNS, FUNCTION_EXPECTED)],
    ids=["configs", "functions"],
)
def test_column_schemas_describe_every_column(
    columns: dict[str, dict[str, object]], row: dict[str, object]
) -> None:
    assert list(columns) == list(row)
    for name, column in columns.items():
        assert column["data_type"] in {"text", "bigint", "bool", "timestamp"}, name
        assert isinstance(column["nullable"], bool), name
        description = column["description"]
        assert isinstance(description, str) and description and "\n" not in description, name
        assert column.get("timezone") is (True if column["data_type"] == "timestamp" else None)
        value = row[name]
        if value is not None:
            python_type = {"text": str, "bigint": int, "bool": bool, "timestamp": datetime}
            assert type(value) is python_type[column["data_type"]], name


@pytest.mark.parametrize(
    ("columns", "not_null"),
    [
        (
            CONFIG_COLUMNS,
            {
                "func_urn",
                "function_urn",
                "region",
                "project_id",
                "package",
                "function_name",
                "row_version",
            },
        ),
        (FUNCTION_COLUMNS, {"func_urn", "region", "project_id", "row_version"}),
    ],
    ids=["configs", "functions"],
)
def test_only_identity_columns_and_the_fingerprint_are_not_null(
    columns: dict[str, dict[str, object]], not_null: set[str]
) -> None:
    assert {name for name, column in columns.items() if not column["nullable"]} == not_null


def test_metrics_are_not_stored_so_they_never_version_a_function() -> None:
    """`fail_count` moves every day: stored, it would write a new version of every function."""
    base = shape_function(FUNCTION_ITEM, region="cn-north-4", project_id="p", naive_zone=UTC)
    busy = shape_function(
        {**FUNCTION_ITEM, "fail_count": 41}, region="cn-north-4", project_id="p", naive_zone=UTC
    )
    assert busy == base and "fail_count" not in busy
    assert "fail_count" not in (busy["extra_fields"] or "")
