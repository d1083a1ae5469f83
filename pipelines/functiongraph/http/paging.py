"""Stop rules for FunctionGraph's two marker-paged shapes.

The API documents its last page inconsistently (`next_marker` equal to `count`, or `0`, or
missing), so a paginator that trusts any single rule either stops early or loops forever. These
state machines apply every rule from the API notes and remember *why* they stopped. A listing is
`complete` only when it ended by a documented rule *and* did not contradict itself: where the
server announced a `count`, the items seen must reach it. A stop forced by a misbehaving server
(a marker that does not advance or repeats, more pages than `max_pages`) is never complete. Only
complete listings may retire rows later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.functiongraph.errors import PagingError
from pipelines.functiongraph.shaping.values import as_int

# Stop reasons that mean "the server said this was the last page".
COMPLETE_REASONS = frozenset({"empty page", "no next_marker", "next_marker is 0", "reached count"})
DEFAULT_MAX_PAGES = 1000
"""Pages one listing may take before it is declared incomplete: 400,000 functions or 100,000
configs of one function at the largest page sizes, far beyond the documented quotas."""


@dataclass
class MarkerPaginator:
    """Offset-marker paging; subclasses say where the marker, size and count live."""

    page_size: int
    max_pages: int = DEFAULT_MAX_PAGES
    size_param: str = "limit"
    items_key: str = "items"
    marker: int = 0
    pages: int = 0
    items_seen: int = 0
    stop_reason: str | None = None
    count: int | None = None
    """The total the server announced on the last page read, when it sent one."""

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def complete(self) -> bool:
        return self.incompleteness is None

    @property
    def incompleteness(self) -> str | None:
        """Why the listing cannot count as complete, or None when it can."""
        if self.stop_reason is None:
            return "paging has not finished"
        if self.stop_reason not in COMPLETE_REASONS:
            return f"paging stopped early ({self.stop_reason})"
        if self.count is not None and self.items_seen < self.count:
            return (
                f"the server announced {self.count} items but served {self.items_seen} "
                f"before its last page ({self.stop_reason})"
            )
        return None

    def params(self) -> dict[str, str]:
        """Query parameters for the next request (the API wants strings)."""
        return {"marker": str(self.marker), self.size_param: str(self.page_size)}

    def read_markers(self, body: Mapping[str, Any]) -> tuple[Any, Any]:
        """Return the raw `(next_marker, count)` of a page body."""
        raise NotImplementedError

    def advance(self, body: Any) -> list[Any]:
        """Take one page body, return its items, and decide whether another page is needed."""
        if self.done:
            raise PagingError("paginator asked to advance after it stopped")
        if not isinstance(body, Mapping):
            raise PagingError(f"page is a {type(body).__name__}, not a JSON object")
        items = body.get(self.items_key)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise PagingError(f"'{self.items_key}' is a {type(items).__name__}, not a list")
        self.pages += 1
        self.items_seen += len(items)
        raw_next, raw_count = self.read_markers(body)
        count = as_int(raw_count)
        self.count = count if count is not None and count >= 0 else None
        self.stop_reason = self._stop_reason(items, raw_next, self.count)
        if self.stop_reason is None and self.pages >= self.max_pages:
            self.stop_reason = f"gave up after {self.pages} pages (max_pages)"
        if self.stop_reason is None:
            self.marker = as_int(raw_next)  # type: ignore[assignment]  # checked by _stop_reason
        return items

    def _stop_reason(self, items: list[Any], raw_next: Any, count: int | None) -> str | None:
        if not items:
            return "empty page"
        if raw_next is None:
            return "no next_marker"
        next_marker = as_int(raw_next)
        if next_marker is None:
            return f"unreadable next_marker {raw_next!r}"
        if next_marker == 0:
            return "next_marker is 0"
        if count is not None and next_marker >= count:
            return "reached count"
        # Markers only ever grow, so this one rule also catches a repeated marker.
        if next_marker <= self.marker:
            return f"next_marker {next_marker} does not advance past {self.marker}"
        return None


@dataclass
class FunctionListPaginator(MarkerPaginator):
    """ListFunctions: `maxitems` (max 400), `next_marker` and `count` at the top level."""

    size_param: str = "maxitems"
    items_key: str = "functions"

    def read_markers(self, body: Mapping[str, Any]) -> tuple[Any, Any]:
        return body.get("next_marker"), body.get("count")


@dataclass
class PageInfoPaginator(MarkerPaginator):
    """Async-invoke configs: `limit` (max 100), `page_info.next_marker`, top-level `count`."""

    size_param: str = "limit"
    items_key: str = "async_invoke_configs"

    def read_markers(self, body: Mapping[str, Any]) -> tuple[Any, Any]:
        page_info = body.get("page_info")
        next_marker = page_info.get("next_marker") if isinstance(page_info, Mapping) else None
        return next_marker, body.get("count")
