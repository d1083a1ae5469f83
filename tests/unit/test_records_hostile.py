"""Shaping under hostile values: nothing raises, nothing secret survives, everything is storable."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from pipelines.functiongraph.shaping.records import (
    REDACTED,
    config_identity,
    function_identity,
    shape_config,
    shape_function,
)
from tests.support.api_items import FUNCTION, FUNCTION_ITEM, ITEM, PLUS_8, SCOPE

SECRET = "tenant-secret-0f1e2d3c4b5a69788796a5b4"


def shape(item: dict[str, object]) -> dict[str, object]:
    return shape_config(item, **SCOPE, naive_zone=PLUS_8)


def function_row(item: dict[str, object]) -> dict[str, object]:
    return shape_function(item, region="cn-north-4", project_id="proj1", naive_zone=PLUS_8)


def assert_storable(row: dict[str, object]) -> None:
    """Every text value encodes as UTF-8, which is what parquet and DuckDB need."""
    pa.Table.from_pylist([row])  # raises on a lone surrogate
    for value in row.values():
        if isinstance(value, str):
            value.encode("utf-8")


def test_lone_surrogates_are_escaped_not_fatal() -> None:
    side = {"destination": "DIS", "param": '{"stream_name": "s\ud800"}'}
    row = shape({**ITEM, "destination_config": {"on_failure": side}, "note\udc00": "x\ud800y"})
    assert_storable(row)
    assert row["on_failure_target"] == "s\\ud800"
    assert row["on_failure_param"] == '{"stream_name": "s\\ud800"}'
    assert row["extra_fields"] == '{"note\\udc00":"x\\ud800y"}'


def test_a_param_nested_100000_levels_deep_is_a_param_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    row = shape(
        {**ITEM, "destination_config": {"on_success": {"destination": "OBS", "param": deep}}}
    )
    assert row["on_success_param"] == deep
    assert row["on_success_param_error"] == "param is nested too deeply to read"
    assert row["on_success_target"] is None


def test_obs_expires_beyond_64_bits_is_null_with_its_raw_text() -> None:
    param = '{"bucket":"b","expires":99999999999999999999}'
    row = shape(
        {**ITEM, "destination_config": {"on_success": {"destination": "OBS", "param": param}}}
    )
    assert row["on_success_expires"] is None
    assert row["on_success_param_error"] == "'expires' 99999999999999999999 does not fit in 64 bits"
    assert row["on_success_param"] == param


def test_memory_size_beyond_64_bits() -> None:
    row = function_row({**FUNCTION_ITEM, "memory_size": 99999999999999999999})
    assert row["memory_size"] is None
    assert row["value_error"] == "memory_size 99999999999999999999 does not fit in 64 bits"


def test_environment_variables_keep_names_never_values() -> None:
    row = function_row(
        {
            **FUNCTION_ITEM,
            "user_data": json.dumps({"DB_HOST": "db", "DB_PASSWORD": SECRET}),
            "encrypted_user_data": json.dumps({"API_KEY": SECRET + "2"}),
        }
    )
    assert row["environment_variable_names"] == '["API_KEY","DB_HOST","DB_PASSWORD"]'
    assert SECRET not in repr(row)
    assert "user_data" not in str(row["extra_fields"])


@pytest.mark.parametrize(
    ("user_data", "reason"),
    [
        (f'{{"DB_PASSWORD": "{SECRET}"', "user_data is not valid JSON"),
        (json.dumps([SECRET]), "user_data is not a JSON object"),
        ({"DB_PASSWORD": SECRET}, None),  # served as an object rather than JSON text
    ],
    ids=["broken-json", "not-an-object", "object"],
)
def test_unreadable_environment_never_leaks(user_data: object, reason: str | None) -> None:
    row = function_row({**FUNCTION_ITEM, "user_data": user_data})
    assert SECRET not in repr(row)
    if reason:
        assert row["environment_variable_names"] is None
        assert str(row["value_error"]).startswith(reason)
        assert "(its values are not kept)" in str(row["value_error"])
    else:
        assert row["environment_variable_names"] == '["DB_PASSWORD"]'


@pytest.mark.parametrize(
    "name",
    [
        "db_password",
        "vendorSecret",
        "auth_token",
        "credentials",
        "private_key",
        "privateKey",
        "access_key_id",
        "x-api-key",
        "session_cookie",
    ],
)
def test_secret_looking_unknown_fields_are_redacted_at_any_depth(name: str) -> None:
    row = function_row(
        {**FUNCTION_ITEM, name: SECRET, "extend_config": {"nested": [{name: SECRET, "ok": 1}]}}
    )
    extra = json.loads(str(row["extra_fields"]))
    assert extra[name] == REDACTED
    assert extra["extend_config"] == {"nested": [{name: REDACTED, "ok": 1}]}
    assert SECRET not in repr(row)
    config = shape({**ITEM, name: SECRET})
    assert json.loads(str(config["extra_fields"])) == {name: REDACTED}


def test_harmless_unknown_fields_are_kept_verbatim() -> None:
    row = function_row(
        {**FUNCTION_ITEM, "bind_bridge_funcUrns": [FUNCTION], "extend_config": '{"a":1}'}
    )
    assert json.loads(str(row["extra_fields"])) == {
        "bind_bridge_funcUrns": [FUNCTION],
        "extend_config": '{"a":1}',
    }


def test_modelled_fields_leave_extra_fields() -> None:
    row = function_row(
        {
            **FUNCTION_ITEM,
            "xrole": "fgs-agency",
            "func_vpc_id": "",
            "strategy_config": {"concurrency": 0, "concurrent_num": 1},
        }
    )
    assert (row["xrole"], row["func_vpc_id"], row["strategy_config_concurrency"]) == (
        "fgs-agency",
        None,
        0,
    )
    assert row["extra_fields"] is None


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("concurrency=10", "'concurrency=10'"),
        ('{"concurrency": 10}', "'{\"concurrency\": 10}'"),  # JSON text is not an object
        ([{"concurrency": 10}], '[{"concurrency":10}]'),
        (10, "10"),
        (True, "true"),
    ],
    ids=["text", "json-text", "list", "number", "bool"],
)
def test_strategy_config_not_an_object_is_null_with_a_reason(value: object, quoted: str) -> None:
    row = function_row({**FUNCTION_ITEM, "strategy_config": value})
    assert_storable(row)
    assert row["strategy_config_concurrency"] is None
    assert row["strategy_config_concurrent_num"] is None
    assert row["value_error"] == f"strategy_config {quoted} is not an object (kept in extra_fields)"
    assert json.loads(str(row["extra_fields"])) == {"strategy_config": value}


@pytest.mark.parametrize("served", [99999999999999999999, 2**63, -(2**63) - 1, 1e30, "9" * 5000])
def test_concurrency_beyond_64_bits_is_null_with_its_raw_text(served: object) -> None:
    row = function_row(
        {**FUNCTION_ITEM, "strategy_config": {"concurrency": served, "concurrent_num": served}}
    )
    assert row["strategy_config_concurrency"] is None
    assert row["strategy_config_concurrent_num"] is None
    reasons = str(row["value_error"]).split("; ")
    assert [reason.split(" ", 1)[0] for reason in reasons] == [
        "strategy_config.concurrency",
        "strategy_config.concurrent_num",
    ]
    assert all(reason.endswith(" does not fit in 64 bits") for reason in reasons)
    assert row["extra_fields"] is None  # read, so not kept again


def test_concurrency_at_the_64_bit_limits_is_stored() -> None:
    row = function_row(
        {**FUNCTION_ITEM, "strategy_config": {"concurrency": 2**63 - 1, "concurrent_num": -(2**63)}}
    )
    assert row["strategy_config_concurrency"] == 2**63 - 1
    assert row["strategy_config_concurrent_num"] == -(2**63)
    assert row["value_error"] is None


def test_cpu_and_code_size_beyond_64_bits() -> None:
    row = function_row({**FUNCTION_ITEM, "cpu": 2**64, "code_size": "9" * 30})
    assert (row["cpu"], row["code_size"]) == (None, None)
    assert row["value_error"] == (
        f"cpu {2**64} does not fit in 64 bits; code_size '{'9' * 30}' does not fit in 64 bits"
    )


def test_secret_looking_strategy_sub_fields_are_redacted() -> None:
    row = function_row(
        {**FUNCTION_ITEM, "strategy_config": {"concurrency": 1, "auth_token": SECRET}}
    )
    assert row["strategy_config_concurrency"] == 1
    assert json.loads(str(row["extra_fields"])) == {"strategy_config": {"auth_token": REDACTED}}
    assert SECRET not in repr(row)
    row = function_row({**FUNCTION_ITEM, "strategy_config": [{"password": SECRET}]})
    assert json.loads(str(row["extra_fields"])) == {"strategy_config": [{"password": REDACTED}]}
    assert SECRET not in str(row["extra_fields"])


@pytest.mark.parametrize("name", ["xrole", "func_vpc_id", "handler", "cpu", "long_time"])
def test_an_object_served_for_a_scalar_column_keeps_no_secret(name: str) -> None:
    row = function_row({**FUNCTION_ITEM, name: {"agency": "a", "nested": [{"token": SECRET}]}})
    assert SECRET not in repr(row)
    if name == "long_time":
        assert row[name] is None
    elif name == "cpu":
        assert row[name] is None
        assert row["value_error"] == (
            'cpu {"agency":"a","nested":[{"token":"[redacted]"}]} is not an integer'
        )
    else:
        assert row[name] == "{'agency': 'a', 'nested': [{'token': '[redacted]'}]}"


@pytest.mark.parametrize("name", ["xrole", "handler", "code_size", "strategy_config"])
def test_a_document_nested_100000_levels_deep_in_any_field_is_not_fatal(name: str) -> None:
    deep: object = []
    for _ in range(100_000):
        deep = {"a": deep}
    row = function_row({**FUNCTION_ITEM, name: deep})
    assert_storable(row)
    if name in {"xrole", "handler"}:
        assert row[name] == "<nested too deeply to store>"


def test_lone_surrogates_in_new_columns_are_escaped() -> None:
    row = function_row({**FUNCTION_ITEM, "xrole": "agency\ud800", "type": "v\udc00"})
    assert_storable(row)
    assert (row["xrole"], row["type"]) == ("agency\\ud800", "v\\udc00")


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"func_urn": FUNCTION}, FUNCTION),
        ({"func_urn": f"{FUNCTION}:latest"}, None),  # qualified: not a function of the listing
        ({"func_urn": "garbage"}, None),
        ({"func_urn": ""}, None),
        ({"func_urn": 7}, None),
        ({}, None),
        ("not an object", None),
    ],
)
def test_function_identity(item: object, expected: str | None) -> None:
    assert function_identity(item) == expected


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"func_urn": f"{FUNCTION}:latest"}, f"{FUNCTION}:latest"),
        ({"func_urn": "odd but an identity"}, "odd but an identity"),
        ({"func_urn": "  "}, None),
        ({"func_urn": None}, None),
        ([], None),
    ],
)
def test_config_identity(item: object, expected: str | None) -> None:
    assert config_identity(item) == expected
