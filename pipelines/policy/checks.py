"""The checks a policy rule can apply, as SQL over every config version.

Each check is one SELECT of `(func_urn, valid_from, reason)`: the config versions that break it,
with why in words. Evaluating every version, not only the live one, is what lets a finding say
*since when* (see sql/reporting/policy_finding_history.sql). Checks that depend on other
configs (loops, dangling targets) are known for the live state only; an older version counts as
breaking them while it had the live version's targets, i.e. for as long as the config has been
pointing where it points now.

Parameters are whole numbers validated by `rules`, so inlining them is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

VERSIONS = "staging.stg_async_invoke_configs"


@dataclass(frozen=True)
class Check:
    name: str
    select: Callable[[dict[str, int]], str]
    """The breaking versions, given the rule's parameters."""
    params: dict[str, int] = field(default_factory=dict)
    """Parameter names and their defaults."""


def _each_version(condition: str, reason: str) -> Callable[[dict[str, int]], str]:
    """A check decided by each version's own values."""

    def select(params: dict[str, int]) -> str:
        return (
            f"select func_urn, valid_from, {reason.format(**params)} as reason "
            f"from {VERSIONS} where {condition.format(**params)}"
        )

    return select


def _same_targets_as_live(live_breaches: str) -> Callable[[dict[str, int]], str]:
    """A check known for live configs only (`live_breaches`: func_urn, reason), extended to the
    older versions that had the live version's targets."""

    def select(params: dict[str, int]) -> str:
        return f"""select v.func_urn, v.valid_from, breach.reason
            from {VERSIONS} as v
            join {VERSIONS} as live on live.func_urn = v.func_urn and live.is_current
            join ({live_breaches}) as breach on breach.func_urn = v.func_urn
            where v.on_success_target is not distinct from live.on_success_target
                and v.on_failure_target is not distinct from live.on_failure_target"""

    return select


def _function_version(condition: str, reason: str) -> Callable[[dict[str, int]], str]:
    """A check decided by the function a config belongs to (`f`, a version of
    staging.stg_functions overlapping the config version `s`): the config version breaks it if
    any function version during its lifetime did."""

    def select(params: dict[str, int]) -> str:
        return f"""select s.func_urn, s.valid_from, min({reason}) as reason
            from {VERSIONS} as s
            join staging.stg_functions as f
                on f.function_urn = s.function_urn
                and (s.valid_to is null or f.valid_from < s.valid_to)
                and (f.valid_to is null or f.valid_to > s.valid_from)
            where {condition.format(**params)}
            group by s.func_urn, s.valid_from"""

    return select


_LOOP_SIDES = """select func_urn,
        string_agg(side || ' -> ' || target, '; ' order by side) || ' closes a loop' as reason
    from staging.stg_async_invoke_config_sides
    where is_current and func_urn || ' (' || side || ')' in (
        select unnest(via_configs) from reporting.destination_cycles
    )
    group by func_urn"""

_DANGLING = """select func_urn,
        string_agg(side || ' -> ' || target || ': ' || problem, '; ' order by side) as reason
    from reporting.dangling_destinations
    group by func_urn"""

CHECKS: dict[str, Check] = {
    check.name: check
    for check in (
        Check(
            "failure_destination_required",
            _each_version("failure_gap is not null", "failure_gap"),
        ),
        Check("destination_cycle", _same_targets_as_live(_LOOP_SIDES)),
        Check("dangling_destination", _same_targets_as_live(_DANGLING)),
        Check(
            "max_retries",
            _each_version(
                "max_async_retry_attempts > {limit}",
                "max_async_retry_attempts || ' retries, more than {limit}'",
            ),
            {"limit": 3},
        ),
        Check(
            "min_event_age",
            _each_version(
                "max_async_event_age_in_seconds < {seconds}",
                "'events expire after ' || max_async_event_age_in_seconds "
                "|| ' s, less than {seconds} s'",
            ),
            {"seconds": 300},
        ),
        Check(
            "agency_required",
            _function_version(
                "f.xrole is null and (s.on_success_destination is not null "
                "or s.on_failure_destination is not null)",
                "'sends async results, but its function has no agency (xrole)'",
            ),
        ),
        Check(
            "function_disabled",
            _function_version(
                "f.strategy_config_concurrency = 0",
                "'its function is disabled (strategy_config.concurrency 0)'",
            ),
        ),
        Check(
            "status_log_required",
            _each_version(
                "enable_async_status_log is not true",
                "case when enable_async_status_log is null then 'status log not configured' "
                "else 'status log off' end",
            ),
        ),
    )
}
"""Every check, by name; a rule's `check` (by default its id) names one."""
