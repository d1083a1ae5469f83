"""Turn the API's timestamps into instants.

The API mixes forms: `created_time` carries an offset, `last_modified` is often a naive wall clock
(apparently UTC+08:00). Rows store instants, so a naive value is read in a configured zone, and
anything unreadable becomes None rather than an error: the raw string is kept beside it.
"""

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "+08:00"
"""The zone naive API timestamps are read in unless configured otherwise."""

_OFFSET = r"(?P<sign>[+-])(?P<hh>[01][0-9]|2[0-3]):?(?P<mm>[0-5][0-9])"
_ZONE_OFFSET = re.compile(_OFFSET)
_TIMESTAMP = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ](?P<time>[0-9]{2}:[0-9]{2}:[0-9]{2})"
    rf"(?:\.(?P<fraction>[0-9]+))? ?(?:(?P<utc>[Zz])|{_OFFSET})?"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_MILLISECONDS_ABOVE = 1e11
"""Epoch seconds reach 1e11 only in the year 5138, so larger numbers are milliseconds."""


def _fixed_offset(match: re.Match[str]) -> timezone:
    minutes = int(match["hh"]) * 60 + int(match["mm"])
    return timezone(timedelta(minutes=-minutes if match["sign"] == "-" else minutes))


def parse_zone(spec: str) -> tzinfo:
    """Read a configured zone: `+08:00`, `-0530`, `UTC`, `Z` or an IANA name like `Asia/Shanghai`.

    Raises ValueError naming the value, so a typo in the configuration stops the run early.
    """
    if isinstance(spec, str):
        text = spec.strip()
        if text.upper() in ("UTC", "Z"):
            return UTC
        if match := _ZONE_OFFSET.fullmatch(text):
            return _fixed_offset(match)
        try:
            return ZoneInfo(text)
        except (KeyError, ValueError, OSError):
            pass
    raise ValueError(
        f"unknown time zone {spec!r}: use an offset like '+08:00' or '+0800', 'UTC', 'Z', "
        "or an IANA name like 'Asia/Shanghai'"
    )


def _parse_text(raw: str) -> tuple[datetime, tzinfo | None] | None:
    """The wall clock and the offset it was served with (None when naive), or None if unreadable."""
    match = _TIMESTAMP.fullmatch(raw.strip())
    if match is None:
        return None
    fraction = (match["fraction"] or "")[:6].ljust(6, "0")
    try:
        wall = datetime.fromisoformat(f"{match['date']}T{match['time']}.{fraction}")
    except ValueError:
        return None
    if match["utc"]:
        return wall, UTC
    return wall, _fixed_offset(match) if match["sign"] else None


def parse_api_timestamp(raw: object, naive_zone: tzinfo) -> datetime | None:
    """An aware datetime for an API timestamp, or None when it is absent or unreadable.

    Strings are RFC 3339 (with `T` or a space, `Z`/`+08:00`/`+0800`, any fraction, truncated to
    microseconds) or naive, which are read in `naive_zone`. Numbers are epoch seconds, or
    milliseconds when too large to be seconds. Never raises: the caller keeps the raw value.
    """
    if isinstance(raw, str):
        parsed = _parse_text(raw)
        if parsed is None:
            return None
        wall, offset = parsed
        return wall.replace(tzinfo=naive_zone if offset is None else offset)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return None
    unit = "milliseconds" if abs(raw) > _EPOCH_MILLISECONDS_ABOVE else "seconds"
    try:
        return _EPOCH + timedelta(**{unit: raw})
    except (OverflowError, ValueError):
        return None
