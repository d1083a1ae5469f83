"""Every stop rule of both paging shapes, on page bodies alone (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.functiongraph.errors import PagingError
from pipelines.functiongraph.http.paging import FunctionListPaginator, PageInfoPaginator


def configs_page(items: int, next_marker: Any = None, count: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"async_invoke_configs": [{"n": i} for i in range(items)]}
    if count is not None:
        body["count"] = count
    if next_marker is not None:
        body["page_info"] = {
            "next_marker": next_marker,
            "previous_marker": 0,
            "current_count": items,
        }
    return body


def functions_page(items: int, next_marker: Any = None, count: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"functions": [{"n": i} for i in range(items)]}
    if next_marker is not None:
        body["next_marker"] = next_marker
    if count is not None:
        body["count"] = count
    return body


def drive(paginator: Any, pages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Feed pages until the paginator stops; return the params it asked with."""
    asked = []
    for body in pages:
        asked.append(paginator.params())
        paginator.advance(body)
        if paginator.done:
            break
    return asked


@pytest.mark.parametrize(
    ("make_page", "paginator_class"),
    [(configs_page, PageInfoPaginator), (functions_page, FunctionListPaginator)],
    ids=["page_info", "top_level"],
)
@pytest.mark.parametrize(
    ("last_next_marker", "reason", "complete"),
    [
        (4, "reached count", True),  # the documented example: next_marker == count
        (0, "next_marker is 0", True),  # what Terraform checks
        (None, "no next_marker", True),  # missing altogether
        (2, "next_marker 2 does not advance past 2", False),  # repeated marker
        (1, "next_marker 1 does not advance past 2", False),  # goes backwards
        ("x", "unreadable next_marker 'x'", False),
    ],
)
def test_stop_rules(make_page, paginator_class, last_next_marker, reason, complete) -> None:
    paginator = paginator_class(page_size=2)
    pages = [make_page(2, 2, 4), make_page(2, last_next_marker, 4), make_page(2, 6, 8)]
    asked = drive(paginator, pages)
    assert [p["marker"] for p in asked] == ["0", "2"]
    assert paginator.stop_reason == reason
    assert paginator.complete is complete
    assert paginator.items_seen == 4


def test_marker_beyond_count_stops_but_a_short_count_is_incomplete() -> None:
    # The doc example shows count 2 with a single item: next_marker >= count ends the listing,
    # but the server contradicted itself, so the listing may not retire anything.
    paginator = PageInfoPaginator(page_size=10)
    items = paginator.advance(configs_page(1, 2, 2))
    assert len(items) == 1 and paginator.stop_reason == "reached count"
    assert not paginator.complete
    assert paginator.incompleteness == (
        "the server announced 2 items but served 1 before its last page (reached count)"
    )


def test_empty_page_stops_even_with_a_next_marker() -> None:
    paginator = PageInfoPaginator(page_size=10)
    assert paginator.advance(configs_page(0, 10, 0)) == []
    assert paginator.stop_reason == "empty page" and paginator.complete


@pytest.mark.parametrize(
    ("make_page", "paginator_class"),
    [(configs_page, PageInfoPaginator), (functions_page, FunctionListPaginator)],
    ids=["page_info", "top_level"],
)
@pytest.mark.parametrize("last_next_marker", [0, None], ids=["zero", "missing"])
def test_last_page_short_of_count_is_incomplete(make_page, paginator_class, last_next_marker):
    paginator = paginator_class(page_size=2)
    drive(paginator, [make_page(2, 2, 5), make_page(2, last_next_marker, 5)])
    assert paginator.done and not paginator.complete
    assert "announced 5 items but served 4" in (paginator.incompleteness or "")


def test_empty_page_before_count_is_incomplete() -> None:
    paginator = PageInfoPaginator(page_size=10)
    paginator.advance(configs_page(0, 10, 50))
    assert paginator.stop_reason == "empty page" and not paginator.complete


def test_more_items_than_count_is_still_complete() -> None:
    # A function created while the listing was paged: more items than announced, all seen.
    paginator = FunctionListPaginator(page_size=2)
    drive(paginator, [functions_page(2, 2, 3), functions_page(2, 0, 3)])
    assert paginator.complete and paginator.items_seen == 4


@pytest.mark.parametrize("count", [None, -1, "lots"], ids=["absent", "negative", "text"])
def test_endless_paging_stops_at_max_pages_and_is_incomplete(count) -> None:
    paginator = PageInfoPaginator(page_size=1, max_pages=25)
    pages = 0
    while not paginator.done:
        paginator.advance(configs_page(1, paginator.marker + 1, count))
        pages += 1
        assert pages <= 25
    assert pages == 25 and not paginator.complete
    assert paginator.incompleteness == "paging stopped early (gave up after 25 pages (max_pages))"


def test_missing_count_keeps_paging_while_markers_advance() -> None:
    paginator = FunctionListPaginator(page_size=1)
    asked = drive(paginator, [functions_page(1, 1), functions_page(1, 2), functions_page(1, 0)])
    assert [p["marker"] for p in asked] == ["0", "1", "2"]
    assert paginator.complete and paginator.pages == 3


def test_numeric_strings_are_read_as_markers() -> None:
    paginator = PageInfoPaginator(page_size=1)
    paginator.advance(configs_page(1, "1", "3"))
    assert paginator.params() == {"marker": "1", "limit": "1"}


@pytest.mark.parametrize(
    ("paginator", "expected"),
    [
        (PageInfoPaginator(page_size=100), {"marker": "0", "limit": "100"}),
        (FunctionListPaginator(page_size=400), {"marker": "0", "maxitems": "400"}),
    ],
)
def test_first_request_params(paginator, expected) -> None:
    assert paginator.params() == expected


@pytest.mark.parametrize(
    "body",
    [[], "text", {"async_invoke_configs": {"not": "a list"}}],
    ids=["list-body", "string-body", "items-not-a-list"],
)
def test_unreadable_pages_raise(body) -> None:
    with pytest.raises(PagingError):
        PageInfoPaginator(page_size=10).advance(body)


def test_advancing_after_the_end_is_a_bug() -> None:
    paginator = PageInfoPaginator(page_size=10)
    paginator.advance(configs_page(0))
    with pytest.raises(PagingError):
        paginator.advance(configs_page(1, 5, 10))
