import pytest

from pipelines.functiongraph.shaping.destinations import (
    TARGET_KEYS,
    flatten_destination_config,
    flatten_side,
)
from tests.support.api_items import SIDE_SUFFIXES

SIDE_KEYS = SIDE_SUFFIXES
NOTHING = dict.fromkeys(SIDE_KEYS)
KNOWN = {"OBS", "SMN", "DIS", "FunctionGraph"}


def side(
    destination: str | None = None,
    param: str | None = None,
    target: str | None = None,
    prefix: str | None = None,
    expires: int | None = None,
    param_error: str | None = None,
    *,
    where: tuple[str | None, str | None, str | None] = (None, None, None),
) -> dict[str, object]:
    """Expected side columns; `where` is (target function URN, target region, target project)."""
    function_urn, region, project_id = where
    return {
        "destination": destination,
        "destination_known": None if destination is None else destination in KNOWN,
        "param": param,
        "target": target,
        "target_function_urn": function_urn,
        "target_region": region,
        "target_project_id": project_id,
        "prefix": prefix,
        "expires": expires,
        "param_error": param_error,
    }


def prefixed(side_name: str, columns: dict[str, object]) -> dict[str, object]:
    return {f"{side_name}_{k}": v for k, v in columns.items()}


def test_target_keys() -> None:
    assert dict(TARGET_KEYS) == {
        "OBS": "bucket",
        "SMN": "topic_urn",
        "DIS": "stream_name",
        "FunctionGraph": "func_urn",
    }


SMN_TOPIC = "urn:smn:cn-north-4:p:topic"
FN_URN = "urn:fss:cn-north-4:p:function:default:target:latest"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # nothing configured on this side
        (None, NOTHING),
        ({}, NOTHING),
        ("OBS", NOTHING),
        (["OBS"], NOTHING),
        ({"unknown": 1}, NOTHING),
        ({"destination": None, "param": None}, NOTHING),
        # each known destination and its target key
        (
            {"destination": "OBS", "param": '{"bucket":"b1","prefix":"logs/","expires":30}'},
            side("OBS", '{"bucket":"b1","prefix":"logs/","expires":30}', "b1", "logs/", 30),
        ),
        (
            {"destination": "SMN", "param": f'{{"topic_urn":"{SMN_TOPIC}"}}'},
            side(
                "SMN",
                f'{{"topic_urn":"{SMN_TOPIC}"}}',
                SMN_TOPIC,
                where=(None, "cn-north-4", "p"),
            ),
        ),
        (
            {"destination": "DIS", "param": '{"stream_name":"s1"}'},
            side("DIS", '{"stream_name":"s1"}', "s1"),
        ),
        (
            {"destination": "FunctionGraph", "param": f'{{"func_urn":"{FN_URN}"}}'},
            side(
                "FunctionGraph",
                f'{{"func_urn":"{FN_URN}"}}',
                FN_URN,
                where=("urn:fss:cn-north-4:p:function:default:target", "cn-north-4", "p"),
            ),
        ),
        # the raw param is kept byte for byte; the target is stripped
        (
            {"destination": "DIS", "param": '  {\n "stream_name" : "  s1\\t" }\n'},
            side("DIS", '  {\n "stream_name" : "  s1\\t" }\n', "s1"),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"桶-1","prefix":"日志/"}'},
            side("OBS", '{"bucket":"桶-1","prefix":"日志/"}', "桶-1", "日志/"),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"\\u6876"}'},
            side("OBS", '{"bucket":"\\u6876"}', "桶"),
        ),
        # OBS without optional keys, and its expires forms
        ({"destination": "OBS", "param": '{"bucket":"b"}'}, side("OBS", '{"bucket":"b"}', "b")),
        (
            {"destination": "OBS", "param": '{"bucket":"b","expires":"30"}'},
            side("OBS", '{"bucket":"b","expires":"30"}', "b", expires=30),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"b","expires":0}'},
            side("OBS", '{"bucket":"b","expires":0}', "b", expires=0),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"b","expires":400}'},
            side("OBS", '{"bucket":"b","expires":400}', "b", expires=400),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"b","expires":-1}'},
            side("OBS", '{"bucket":"b","expires":-1}', "b", expires=-1),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"b","expires":"abc"}'},
            side(
                "OBS",
                '{"bucket":"b","expires":"abc"}',
                "b",
                param_error="'expires' 'abc' is not an integer",
            ),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"b","expires":7.5}'},
            side(
                "OBS",
                '{"bucket":"b","expires":7.5}',
                "b",
                param_error="'expires' 7.5 is not an integer",
            ),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"b","expires":true,"prefix":5}'},
            side(
                "OBS",
                '{"bucket":"b","expires":true,"prefix":5}',
                "b",
                param_error="'prefix' is not a string: 5; 'expires' true is not an integer",
            ),
        ),
        # unreadable params: raw kept, reason given
        (
            {"destination": "OBS"},
            side("OBS", param_error="param is missing"),
        ),
        (
            {"destination": "OBS", "param": None},
            side("OBS", param_error="param is missing"),
        ),
        (
            {"destination": "SMN", "param": ""},
            side("SMN", "", param_error="param is empty"),
        ),
        (
            {"destination": "SMN", "param": " \n "},
            side("SMN", " \n ", param_error="param is empty"),
        ),
        (
            {"destination": "DIS", "param": "not json"},
            side(
                "DIS", "not json", param_error="param is not valid JSON: Expecting value at char 0"
            ),
        ),
        (
            {"destination": "DIS", "param": '{"stream_name": "s1"'},
            side(
                "DIS",
                '{"stream_name": "s1"',
                param_error="param is not valid JSON: Expecting ',' delimiter at char 20",
            ),
        ),
        (
            {"destination": "DIS", "param": '["s1"]'},
            side("DIS", '["s1"]', param_error="param is not a JSON object"),
        ),
        (
            {"destination": "DIS", "param": '"s1"'},
            side("DIS", '"s1"', param_error="param is not a JSON object"),
        ),
        (
            {"destination": "DIS", "param": "null"},
            side("DIS", "null", param_error="param is not a JSON object"),
        ),
        # the target key missing, empty or not a string
        (
            {"destination": "OBS", "param": '{"prefix":"p/"}'},
            side("OBS", '{"prefix":"p/"}', prefix="p/", param_error="param has no 'bucket'"),
        ),
        (
            {"destination": "SMN", "param": "{}"},
            side("SMN", "{}", param_error="param has no 'topic_urn'"),
        ),
        (
            {"destination": "OBS", "param": '{"bucket":"  "}'},
            side("OBS", '{"bucket":"  "}', param_error="'bucket' is empty"),
        ),
        (
            {"destination": "FunctionGraph", "param": '{"func_urn":42}'},
            side("FunctionGraph", '{"func_urn":42}', param_error="'func_urn' is not a string: 42"),
        ),
        (
            {"destination": "DIS", "param": '{"stream_name":null}'},
            side("DIS", '{"stream_name":null}', param_error="'stream_name' is not a string: null"),
        ),
        # a param served as a JSON object is stored as canonical JSON text
        (
            {"destination": "OBS", "param": {"prefix": "日志/", "bucket": " b ", "expires": 3}},
            side("OBS", '{"bucket":" b ","expires":3,"prefix":"日志/"}', "b", "日志/", 3),
        ),
        (
            {"destination": "DIS", "param": ["s1"]},
            side("DIS", '["s1"]', param_error="param is not a JSON object"),
        ),
        # destination names are matched exactly; unknown ones are kept, target stays None
        (
            {"destination": "obs", "param": '{"bucket":"b"}'},
            side("obs", '{"bucket":"b"}'),
        ),
        (
            {"destination": "Kafka", "param": '{"topic":"t"}'},
            side("Kafka", '{"topic":"t"}'),
        ),
        (
            {"destination": "Kafka", "param": "{bad"},
            side(
                "Kafka",
                "{bad",
                param_error="param is not valid JSON: "
                "Expecting property name enclosed in double quotes at char 1",
            ),
        ),
        (
            {"destination": "Kafka"},
            side("Kafka", param_error="param is missing"),
        ),
        (
            {"destination": 7, "param": "{}"},
            side("7", "{}"),
        ),
        (
            {"destination": "", "param": ""},
            side("", "", param_error="param is empty"),
        ),
        # a param without a destination is still kept and checked
        ({"param": '{"bucket":"b"}'}, side(None, '{"bucket":"b"}')),
        ({"param": "[]"}, side(None, "[]", param_error="param is not a JSON object")),
    ],
)
@pytest.mark.parametrize("side_name", ["on_success", "on_failure"])
def test_flatten_side(side_name: str, value: object, expected: dict[str, object]) -> None:
    assert flatten_side(side_name, value) == prefixed(side_name, expected)


def test_flatten_side_keeps_column_order() -> None:
    assert list(flatten_side("on_failure", None)) == [f"on_failure_{k}" for k in SIDE_KEYS]


def test_flatten_side_rejects_unknown_side() -> None:
    with pytest.raises(ValueError, match="on_error"):
        flatten_side("on_error", None)


ALL_NONE = {**prefixed("on_success", NOTHING), **prefixed("on_failure", NOTHING)}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ALL_NONE),
        ({}, ALL_NONE),
        ("{}", ALL_NONE),
        ({"on_success": None, "on_failure": {}}, ALL_NONE),
        (
            {
                "on_success": {"destination": "SMN", "param": f'{{"topic_urn":"{SMN_TOPIC}"}}'},
                "on_failure": {"destination": "OBS", "param": '{"bucket":"b","expires":"30"}'},
            },
            {
                **prefixed(
                    "on_success",
                    side(
                        "SMN",
                        f'{{"topic_urn":"{SMN_TOPIC}"}}',
                        SMN_TOPIC,
                        where=(None, "cn-north-4", "p"),
                    ),
                ),
                **prefixed(
                    "on_failure", side("OBS", '{"bucket":"b","expires":"30"}', "b", expires=30)
                ),
            },
        ),
        (
            {"on_failure": {"destination": "DIS", "param": ""}},
            {
                **prefixed("on_success", NOTHING),
                **prefixed("on_failure", side("DIS", "", param_error="param is empty")),
            },
        ),
    ],
)
def test_flatten_destination_config(value: object, expected: dict[str, object]) -> None:
    flattened = flatten_destination_config(value)
    assert flattened == expected
    assert list(flattened) == list(ALL_NONE)


@pytest.mark.parametrize(
    ("destination", "key", "target", "where"),
    [
        ("FunctionGraph", "func_urn", FN_URN, (FN_URN.rsplit(":", 1)[0], "cn-north-4", "p")),
        (
            "FunctionGraph",
            "func_urn",
            "urn:fss:r:q:function:pkg:fn",
            ("urn:fss:r:q:function:pkg:fn", "r", "q"),
        ),
        (
            "FunctionGraph",
            "func_urn",
            "urn:fss:r:q:function:pkg:fn:!blue",
            ("urn:fss:r:q:function:pkg:fn", "r", "q"),
        ),
        ("FunctionGraph", "func_urn", "not-a-urn", (None, None, None)),
        ("FunctionGraph", "func_urn", "urn:smn:r:q:topic", (None, None, None)),
        ("SMN", "topic_urn", "urn:smn:r:q:topic", (None, "r", "q")),
        ("SMN", "topic_urn", "alerts", (None, None, None)),
        ("DIS", "stream_name", "urn:smn:r:q:topic", (None, None, None)),
    ],
)
def test_targets_are_parsed_once_when_loading(destination, key, target, where) -> None:
    param = f'{{"{key}":"{target}"}}'
    assert flatten_side("on_failure", {"destination": destination, "param": param}) == prefixed(
        "on_failure", side(destination, param, target, where=where)
    )
