"""The sandbox's replayed days: deterministic, never empty, truthful, and always servable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipelines.sandbox import (
    Estate,
    apply_day,
    generate_estate,
    plan_day,
    unqualified_urn,
)
from pipelines.sandbox.replay import MAX_RETRIES, MIN_EVENT_AGE

REGION = "cn-north-4"
PROJECT = "0b1e2a7c5d4f4e3a9c8b7a6d5e4f3a2b"
SEEN_AT = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def estate(functions: int = 40, seed: int = 7) -> Estate:
    return generate_estate(seed=seed, projects=[(REGION, PROJECT)], functions_per_project=functions)


def replay(target: Estate, seed: int, days: int) -> list[Any]:
    """Apply `days` days of change (day k seen k days after SEEN_AT); the plans, in order."""
    plans = []
    for day in range(1, days + 1):
        plan = plan_day(target, seed=seed, day=day, seen_at=SEEN_AT + timedelta(days=day))
        apply_day(target, plan)
        plans.append(plan)
    return plans


def breaks(rule: str, item: dict[str, Any]) -> bool:
    """The packaged policy rules the edits aim at, as the SQL evaluates them."""
    sides = item.get("destination_config") or {}
    failure = (sides.get("on_failure") or {}).get("destination")
    success = (sides.get("on_success") or {}).get("destination")
    retries = item.get("max_async_retry_attempts")
    if rule == "failure_destination_required":
        return failure is None and ((retries or 0) > 0 or success is not None)
    if rule == "max_retries":
        return retries > MAX_RETRIES
    if rule == "min_event_age":
        return item["max_async_event_age_in_seconds"] < MIN_EVENT_AGE
    assert rule == "status_log_required", rule
    return item.get("enable_async_status_log") is not True


def servable(target: Estate) -> None:
    """The estate passes the sandbox's own checks: rebuilt function by function into a new
    Estate (which refuses a config under another function, or a function listed twice), with
    every config URN served once per function."""
    rebuilt = Estate()
    for project_id, project in target.to_dict().items():
        for urn, item in project["functions"].items():
            assert item["func_urn"] == urn
            configs = project["configs"].get(urn, [])
            rebuilt.add_function(project_id, item, configs)
            served = [config["func_urn"] for config in configs]
            assert len(served) == len(set(served)), urn
    assert rebuilt == target


def function_edges(target: Estate) -> set[tuple[str, str, str]]:
    """(config, side, target) of every FunctionGraph destination."""
    return {
        (item["func_urn"], side, destination["param"])
        for item in target.all_configs()
        if isinstance(item.get("destination_config"), dict)
        for side, destination in item["destination_config"].items()
        if isinstance(destination, dict) and destination.get("destination") == "FunctionGraph"
    }


def test_a_plan_is_deterministic_and_reads_the_estate_only() -> None:
    one, two = estate(), estate()
    before = one.to_dict()
    plan = plan_day(one, seed=3, day=1, seen_at=SEEN_AT)
    assert one.to_dict() == before  # planning changed nothing
    assert plan == plan_day(two, seed=3, day=1, seen_at=SEEN_AT)
    # the time of day of the run does not matter: edits are dated the evening before
    assert (
        plan.changes == plan_day(two, seed=3, day=1, seen_at=SEEN_AT + timedelta(hours=20)).changes
    )
    assert plan.changes != plan_day(two, seed=4, day=1, seen_at=SEEN_AT).changes
    assert plan.changes != plan_day(two, seed=3, day=2, seen_at=SEEN_AT).changes


def test_replaying_the_same_days_builds_the_same_estate() -> None:
    one, two = estate(), estate()
    replay(one, seed=11, days=10)
    replay(two, seed=11, days=10)
    assert one == two
    assert one != estate()


def test_seen_at_must_have_a_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_day(estate(), seed=1, day=1, seen_at=datetime(2026, 3, 10))


@pytest.mark.parametrize("functions", [0, 1, 3, 12, 60])
@pytest.mark.parametrize("seed", [1, 7, 42])
def test_every_day_changes_something_and_the_estate_stays_servable(
    functions: int, seed: int
) -> None:
    target = estate(functions, seed)
    for day in range(1, 41):
        before = target.to_dict()
        plan = plan_day(target, seed=seed, day=day, seen_at=SEEN_AT + timedelta(days=day))
        assert plan.changes, f"day {day} changes nothing"
        apply_day(target, plan)  # the estate's own checks raise on anything inconsistent
        assert target.to_dict() != before
        servable(target)


def test_a_year_of_days_never_breaks_the_estate() -> None:
    target = estate(60)
    plans = replay(target, seed=7, days=365)
    servable(target)
    counted = [plan.counts() for plan in plans]
    assert all(1 <= c["updated"] <= 5 for c in counted)
    assert all(c["deleted"] >= 1 for c in counted)
    assert sum(c["functions_added"] for c in counted) > sum(c["functions_removed"] for c in counted)
    assert sum(c["functions_removed"] for c in counted) > 0
    # the estate neither dies out nor explodes
    assert 100 <= len(target.all_configs()) <= 400


def test_notes_say_truthfully_which_rule_an_edit_breaks_or_fixes() -> None:
    target = estate(60)
    effects = {"breaks": 0, "fixes": 0}
    for day in range(1, 31):
        served = {item["func_urn"]: item for item in target.all_configs()}
        plan = plan_day(target, seed=5, day=day, seen_at=SEEN_AT + timedelta(days=day))
        for change in plan.changes:
            if change.action != "update_config" or "(" not in change.note:
                continue
            effect, rule = change.note.rsplit("(", 1)[1].rstrip(")").split()
            old, new = served[change.urn], change.item
            assert breaks(rule, old) == (effect == "fixes"), change.note
            assert breaks(rule, new) == (effect == "breaks"), change.note
            effects[effect] += 1
        apply_day(target, plan)
    assert effects["breaks"] >= 20 and effects["fixes"] >= 20  # both happen, and often


def test_loops_and_dangling_targets_are_left_alone() -> None:
    target = estate(60)
    edges = function_edges(target)
    assert edges  # the generator plants a loop, a dangling and a cross-project target
    plans = replay(target, seed=9, days=60)
    assert function_edges(target) == edges
    removed = {c.urn for plan in plans for c in plan.changes if c.action == "remove_function"}
    assert removed  # functions were removed, but none whose configs call a function
    sources = {unqualified_urn(config) for config, _, _ in edges}
    assert not removed & sources


def test_changes_are_dated_before_the_run_that_sees_them() -> None:
    target = estate(30)
    seen_at = SEEN_AT + timedelta(days=1)
    plan = plan_day(target, seed=2, day=1, seen_at=seen_at)
    stamps = [
        datetime.fromisoformat(item["last_modified"] + "+08:00")
        for change in plan.changes
        for item in (change.item, *change.configs)
        if item is not None and "last_modified" in item and change.action != "remove_function"
    ]
    assert stamps
    midnight = seen_at.replace(hour=0, minute=0)
    assert all(midnight - timedelta(hours=10) <= stamp < midnight for stamp in stamps)


def test_counts_add_up_what_a_day_does() -> None:
    target = estate(60)
    for plan in replay(target.copy(), seed=13, days=20):
        actions = [change.action for change in plan.changes]
        counted = plan.counts()
        assert counted["updated"] == actions.count("update_config")
        assert counted["functions_added"] == actions.count("add_function")
        assert counted["functions_removed"] == actions.count("remove_function")
        created = actions.count("create_config") + sum(
            len(c.configs) for c in plan.changes if c.action == "add_function"
        )
        assert counted["created"] == created
