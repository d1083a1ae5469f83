from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from pipelines.functiongraph.shaping.timestamps import (
    DEFAULT_ZONE,
    parse_api_timestamp,
    parse_zone,
)

PLUS_8 = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("+08:00", PLUS_8),
        ("+0800", PLUS_8),
        ("-05:30", timezone(-timedelta(hours=5, minutes=30))),
        ("-0530", timezone(-timedelta(hours=5, minutes=30))),
        ("+00:00", UTC),
        ("UTC", UTC),
        ("utc", UTC),
        ("Z", UTC),
        (" +08:00 ", PLUS_8),
        ("Asia/Shanghai", ZoneInfo("Asia/Shanghai")),
        ("Europe/Paris", ZoneInfo("Europe/Paris")),
    ],
)
def test_parse_zone(spec: str, expected: tzinfo) -> None:
    zone = parse_zone(spec)
    assert zone == expected
    moment = datetime(2024, 1, 15, 12, 0)
    assert zone.utcoffset(moment) == expected.utcoffset(moment)


def test_default_zone_is_plus_eight() -> None:
    assert parse_zone(DEFAULT_ZONE) == PLUS_8


@pytest.mark.parametrize(
    "spec",
    ["", "+8", "+08", "+24:00", "+08:60", "08:00", "GMT+8", "Mars/Olympus", "America", "../etc", 8],
)
def test_parse_zone_errors(spec: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_zone(spec)  # type: ignore[arg-type]
    message = str(caught.value)
    assert repr(spec) in message
    assert "'+08:00'" in message
    assert "IANA" in message


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "zone", "expected"),
    [
        # naive wall clocks are read in the configured zone
        ("2021-03-04 14:50:02", PLUS_8, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04T14:50:02", PLUS_8, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04 14:50:02.5", PLUS_8, _utc(2021, 3, 4, 6, 50, 2, 500000)),
        ("2021-03-04 14:50:02", UTC, _utc(2021, 3, 4, 14, 50, 2)),
        ("2021-07-04 14:50:02", ZoneInfo("Europe/Paris"), _utc(2021, 7, 4, 12, 50, 2)),
        ("2021-01-04 14:50:02", ZoneInfo("Europe/Paris"), _utc(2021, 1, 4, 13, 50, 2)),
        ("  2021-03-04 14:50:02\n", PLUS_8, _utc(2021, 3, 4, 6, 50, 2)),
        # an offset is honoured whatever the configured zone
        ("2021-03-04T14:50:02+08:00", UTC, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04T14:50:02+0800", UTC, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04 14:50:02+08:00", UTC, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04 14:50:02 +08:00", UTC, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04T06:50:02Z", PLUS_8, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04t06:50:02z", PLUS_8, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04T01:20:02-05:30", PLUS_8, _utc(2021, 3, 4, 6, 50, 2)),
        ("2021-03-04T14:50:02.123+08:00", UTC, _utc(2021, 3, 4, 6, 50, 2, 123000)),
        ("2021-03-04T06:50:02.123456789Z", UTC, _utc(2021, 3, 4, 6, 50, 2, 123456)),
        # numbers are epoch seconds, or milliseconds when too large for seconds
        (1614840602, PLUS_8, _utc(2021, 3, 4, 6, 50, 2)),
        (1614840602.25, PLUS_8, _utc(2021, 3, 4, 6, 50, 2, 250000)),
        (1614840602123, PLUS_8, _utc(2021, 3, 4, 6, 50, 2, 123000)),
        (0, PLUS_8, _utc(1970, 1, 1)),
        # absent or unreadable: None, never an exception
        (None, PLUS_8, None),
        ("", PLUS_8, None),
        ("   ", PLUS_8, None),
        ("garbage", PLUS_8, None),
        ("2021-03-04", PLUS_8, None),
        ("2021-03-04 14:50", PLUS_8, None),
        ("2021-13-04 14:50:02", PLUS_8, None),
        ("2021-02-30 14:50:02", PLUS_8, None),
        ("2021-03-04 24:00:00", PLUS_8, None),
        ("2021-03-04T14:50:02+25:00", PLUS_8, None),
        ("2021-03-04T14:50:02+08", PLUS_8, None),
        ("2021-03-04T14:50:02 UTC", PLUS_8, None),
        ("1614840602", PLUS_8, None),
        (True, PLUS_8, None),
        (float("nan"), PLUS_8, None),
        (float("inf"), PLUS_8, None),
        (10**30, PLUS_8, None),
        ([2021, 3, 4], PLUS_8, None),
        ({"time": "2021-03-04 14:50:02"}, PLUS_8, None),
    ],
)
def test_parse_api_timestamp(raw: object, zone: tzinfo, expected: datetime | None) -> None:
    parsed = parse_api_timestamp(raw, zone)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


def test_naive_keeps_configured_zone_and_offsets_keep_served_zone() -> None:
    naive_value = parse_api_timestamp("2021-03-04 14:50:02", ZoneInfo("Asia/Shanghai"))
    assert naive_value is not None and naive_value.tzinfo == ZoneInfo("Asia/Shanghai")
    served = parse_api_timestamp("2021-03-04T14:50:02+08:00", UTC)
    assert served is not None and served.utcoffset() == timedelta(hours=8)
