"""Lenient number and text readers shared by the shapers."""

from datetime import UTC, datetime

import pytest

from pipelines.functiongraph.shaping import values
from pipelines.functiongraph.shaping.values import as_int, as_text, row_version


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (30, 30),
        (-1, -1),
        (0, 0),
        ("30", 30),
        (" 30 ", 30),
        ("+30", 30),
        ("-5", -5),
        (30.0, 30),
        (30.5, None),
        ("30.0", None),
        ("1_000", None),
        ("٣٠", None),
        ("", None),
        ("abc", None),
        (True, None),
        (False, None),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        ([30], None),
    ],
)
def test_as_int(value: object, expected: int | None) -> None:
    result = as_int(value)
    assert result == expected
    assert result is None or type(result) is int


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", ""), (" a ", " a "), (5, "5"), (True, "True"), (1.5, "1.5")],
)
def test_as_text(value: object, expected: str | None) -> None:
    assert as_text(value) == expected


def test_fingerprints_do_not_depend_on_which_json_writer_made_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """orjson writes the plain rows (several times faster), json the rest: a fingerprint stored by
    either must be found again by the other, or every row would look changed once."""
    every_character = "".join(chr(c) for c in range(0x3000) if not 0xD800 <= c < 0xE000)
    rows = [
        {"text": every_character, "astral": "\U0001f600\U0010ffff", "quotes": "\\\"'/\u2028"},
        {"low": -(2**63), "high": 2**64 - 1, "zero": 0, "yes": True, "no": False},
        {"beyond": 2**64, "lone": "\ud800"},  # orjson refuses these: json writes them
        {"naive": datetime(2021, 3, 4, 5, 6, 7), "aware": datetime(2021, 3, 4, tzinfo=UTC)},
        {"float": 1.5, "nested": {"b": [1, "x"], "a": None}},  # not plain: json only
        {"kept": "x", "null": None, "v": "the fingerprint's own column"},
    ]
    fast = [row_version(row, "v") for row in rows]
    monkeypatch.setattr(values, "orjson", None)
    assert [row_version(row, "v") for row in rows] == fast
