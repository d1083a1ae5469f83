"""FunctionGraph function URNs: split them into parts and encode them for a URL path.

The API identifies a config by its qualified URN and expects the unqualified one, percent-encoded
as a single path segment, in the async-invoke-configs URL. Parsing is strict so that a URN that
does not belong to the function it was fetched for is noticed instead of silently loaded.
"""

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

QualifierKind = Literal["latest", "version", "alias"]

_PREFIX = ("urn", "fss")


class UrnError(ValueError):
    """A string that is not a FunctionGraph function URN; the message quotes it and says why."""

    def __init__(self, urn: object, reason: str) -> None:
        super().__init__(f"invalid function URN {urn!r}: {reason}")
        self.urn = urn
        self.reason = reason


@dataclass(frozen=True)
class FunctionUrn:
    """The parts of a function URN; `qualifier` keeps the `!` of an alias (e.g. `"!prod"`)."""

    region: str
    project_id: str
    package: str
    function_name: str
    qualifier: str | None = None

    @property
    def unqualified(self) -> str:
        """The 7-field URN: what ListFunctions returns and what the config API wants in its path."""
        return (
            f"urn:fss:{self.region}:{self.project_id}:function:{self.package}:{self.function_name}"
        )

    @property
    def qualifier_kind(self) -> QualifierKind | None:
        """Which kind of qualifier this is, so reports can tell versions from aliases."""
        if self.qualifier is None:
            return None
        if self.qualifier == "latest":
            return "latest"
        if self.qualifier.startswith("!"):
            return "alias"
        return "version"


def parse_function_urn(urn: str) -> FunctionUrn:
    """Split `urn:fss:{region}:{project_id}:function:{package}:{name}[:{qualifier}]`.

    Raises UrnError for anything else, including non-strings, because a caller that got a broken
    URN from the API needs the reason to store beside the row.
    """
    if not isinstance(urn, str):
        raise UrnError(urn, f"expected a string, got {type(urn).__name__}")
    fields = urn.split(":")
    if tuple(fields[:2]) != _PREFIX:
        raise UrnError(urn, "does not start with 'urn:fss:'")
    if len(fields) not in (7, 8):
        raise UrnError(
            urn,
            f"has {len(fields)} ':'-separated fields, expected 7 (unqualified) or 8 (qualified)",
        )
    region, project_id, literal, package, function_name, *rest = fields[2:]
    if literal != "function":
        raise UrnError(urn, f"5th field is {literal!r}, expected 'function'")
    qualifier = rest[0] if rest else None
    named = {
        "region": region,
        "project_id": project_id,
        "package": package,
        "function name": function_name,
        "qualifier": qualifier,
    }
    for name, value in named.items():
        if value == "":
            raise UrnError(urn, f"{name} is empty")
    if qualifier == "!":
        raise UrnError(urn, "alias after '!' is empty")
    return FunctionUrn(region, project_id, package, function_name, qualifier)


def quote_urn(urn: str) -> str:
    """Percent-encode a URN as one path segment, exactly as the official SDK does."""
    return quote(urn, safe="")
