"""Lenient number and text readers shared by the shapers."""

import pytest

from pipelines.functiongraph.shaping.values import as_int, as_text


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
