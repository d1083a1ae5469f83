"""Lenient readers for loosely typed API values, shared by every shaping module.

The API's values are stored, never rejected, but two kinds cannot reach a table as served: numbers
beyond the 64-bit columns and strings that cannot be encoded as UTF-8 (a lone surrogate such as
`\\ud800`, which JSON allows). The readers here turn them into what can be stored and say why.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

try:
    import orjson
except ImportError:  # dlt installs it on CPython; the json module gives the same text
    orjson = None  # type: ignore[assignment]

_INTEGER_TEXT = re.compile(r"\s*[+-]?[0-9]+\s*")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_RAW_LIMIT = 60
TOO_DEEP = "<nested too deeply to store>"


def read_int(value: object) -> tuple[int | None, str | None]:
    """An int for an integral number or integer string (`"30"`), and why not otherwise.

    bool is refused although Python calls it an int: `true` is not a retry count. A number
    outside 64 bits cannot be stored in a bigint column: it reads as None with a reason that
    quotes the raw value, so what was served is still visible.
    """
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
        try:
            number = int(value)
        except ValueError:  # more digits than Python converts
            return None, f"{raw_text(value)} does not fit in 64 bits"
    if number is None:
        return None, None if value is None else f"{raw_text(value)} is not an integer"
    if not INT64_MIN <= number <= INT64_MAX:
        return None, f"{raw_text(value)} does not fit in 64 bits"
    return number, None


def as_int(value: object) -> int | None:
    """`read_int` without the reason."""
    return read_int(value)[0]


def raw_text(value: object) -> str:
    """A served value quoted in a reason: JSON-like, and cut when long."""
    text = value if isinstance(value, str) else canonical_json(value)
    text = repr(text) if isinstance(value, str) else text
    return text if len(text) <= _RAW_LIMIT else text[: _RAW_LIMIT - 3] + "..."


def as_text(value: object) -> str | None:
    """The value as served when it is a string, its str() otherwise; None stays None."""
    if value is None or isinstance(value, str):
        return value
    return str(value)


def storable(text: str) -> str:
    """`text`, with characters UTF-8 cannot encode (lone surrogates) written as `\\udXXX`."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def storable_row(row: dict[str, Any]) -> dict[str, Any]:
    """Every text value of a shaped row made storable (see `storable`), in place."""
    for key, value in row.items():
        if isinstance(value, str) and not value.isascii():
            row[key] = storable(value)
    return row


def canonical_json(value: object) -> str:
    """Compact, key-sorted JSON, so the same document always gives the same text.

    A document nested deeper than Python can walk is stored as a placeholder instead.
    """
    try:
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str
        )
    except RecursionError:
        return json.dumps(TOO_DEEP)


_PLAIN = frozenset({str, int, bool, datetime})
"""Exact types orjson writes as json.dumps does (floats, subclasses and other types differ)."""
_ORJSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME) if orjson else 0
"""Sorted keys, and datetimes written by `_instant`, as json.dumps does in `row_version`."""


def row_version(row: dict[str, Any], skip: str) -> str:
    """A 128-bit fingerprint of a row's content: the key-sorted JSON of its non-NULL values.

    NULLs are left out so that a column added later, NULL where nothing is served, leaves the
    fingerprints of existing rows (and so their history) as they were. Instants are written in
    UTC, so a row read back from the warehouse (in whatever zone its driver returns) has the
    fingerprint it was shaped with. `skip` names the column that will hold the fingerprint.
    """
    content = {key: value for key, value in row.items() if value is not None and key != skip}
    if orjson is not None and all(type(value) in _PLAIN for value in content.values()):
        try:  # the same bytes as json.dumps below for these types, several times faster
            data = orjson.dumps(content, default=_instant, option=_ORJSON_OPTIONS)
        except TypeError:  # a lone surrogate or an integer beyond 64 bits: json writes those
            pass
        else:
            return hashlib.blake2b(data, digest_size=16).hexdigest()
    text = json.dumps(
        content, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=_instant
    )
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _instant(value: object) -> str:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    return str(value)


def load_json(text: str) -> tuple[Any, str | None]:
    """Parse JSON text: the document, or None and why it could not be read.

    Deep nesting is a reason like any other, not a crash (json raises RecursionError).
    """
    try:
        return json.loads(text), None
    except json.JSONDecodeError as error:
        return None, f"is not valid JSON: {error.msg} at char {error.pos}"
    except RecursionError:
        return None, "is nested too deeply to read"
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        return None, f"cannot be read: {error}"
