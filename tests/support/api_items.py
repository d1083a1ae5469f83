"""Items as the FunctionGraph API returns them, fed to the shaping functions by the unit tests."""

from __future__ import annotations

from datetime import timedelta, timezone

PLUS_8 = timezone(timedelta(hours=8))
FUNCTION = "urn:fss:cn-north-4:proj1:function:default:orders"
SCOPE = {"function_urn": FUNCTION, "region": "cn-north-4", "project_id": "proj1"}
OBS_PARAM = '{"bucket":"async-logs","prefix":"orders/","expires":30}'

# The documented example item.
ITEM = {
    "func_urn": f"{FUNCTION}:latest",
    "max_async_event_age_in_seconds": 3600,
    "max_async_retry_attempts": 3,
    "destination_config": {
        "on_success": {"destination": "OBS", "param": OBS_PARAM},
        "on_failure": {"destination": "SMN", "param": '{"topic_urn":"urn:smn:r:p:t"}'},
    },
    "created_time": "2021-03-04T14:50:02+08:00",
    "last_modified": "2021-03-04 14:50:02",
    "enable_async_status_log": True,
}

FUNCTION_ITEM = {
    "func_urn": FUNCTION,
    "func_name": "orders",
    "package": "default",
    "namespace": "proj1",
    "runtime": "Python3.9",
    "handler": "index.handler",
    "memory_size": 256,
    "timeout": 30,
    "code_type": "inline",
    "version": "latest",
    "description": "",
    "enterprise_project_id": "0",
    "last_modified": "2021-03-04 14:50:02",
    "cpu": 300,
    "code_size": 1024,
    "user_data": "",
}


SIDE_SUFFIXES = (
    "destination",
    "destination_known",
    "param",
    "target",
    "target_function_urn",
    "target_region",
    "target_project_id",
    "prefix",
    "expires",
    "param_error",
)
"""The columns of one destination side, as the tests expect them (`{side}_{suffix}`)."""
