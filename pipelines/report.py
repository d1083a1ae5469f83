"""The short human report `report` and the demo print, read from the reporting views."""

from __future__ import annotations

from typing import Any

from pipelines.policy.severity import most_serious_first


def _rows(client: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in client.execute_sql(sql)]


def render_report(client: Any, limit: int = 10) -> list[str]:
    """Destinations in use, configs that drop failures, loops, dangling targets, data quality
    and the policy findings per rule, as printable lines."""
    lines = ["", "Destinations of live async-invoke configs (on success / on failure):"]
    for destination, on_success, on_failure in _rows(
        client,
        """
        select coalesce(destination, '(none)'), sum(on_success), sum(on_failure)
        from (
            select on_success_destination as destination, 1 as on_success, 0 as on_failure
            from reporting.current_async_invoke_configs
            union all
            select on_failure_destination, 0, 1 from reporting.current_async_invoke_configs
        )
        group by 1 order by 1
        """,
    ):
        lines.append(f"  {destination:<16} {on_success:>5} / {on_failure:<5}")
    silent = _rows(
        client,
        "select func_urn, reason from reporting.functions_without_failure_destination "
        "order by func_urn",
    )
    lines += ["", f"Configs that lose failed events silently: {len(silent)}"]
    lines += [f"  {urn}  ({reason})" for urn, reason in silent[:limit]]
    if len(silent) > limit:
        lines.append(
            f"  ... and {len(silent) - limit} more: see "
            "reporting.functions_without_failure_destination"
        )
    cycles = _rows(
        client, "select cycle_length, short_path from reporting.destination_cycles order by 1, 2"
    )
    lines += ["", f"Function -> function loops between async destinations: {len(cycles)}"]
    lines += [f"  {path}" for _, path in cycles[:limit]]
    ((dangling,),) = _rows(client, "select count(*) from reporting.dangling_destinations")
    lines.append(f"Destinations pointing at missing or foreign targets: {dangling}")
    issues = _rows(
        client,
        "select issue, count(*) from reporting.data_quality_issues group by issue order by issue",
    )
    lines += ["", "Data-quality issues (reporting.data_quality_issues):"]
    lines += [f"  {issue:<22} {count:>5}" for issue, count in issues] or ["  none"]
    findings = _rows(
        client,
        "select severity, rule_id, count(*), min(first_seen) from reporting.policy_findings "
        f"group by severity, rule_id order by {most_serious_first()}, rule_id",
    )
    lines += ["", "Policy findings (reporting.policy_findings; `check` alerts on them):"]
    lines += [
        f"  {severity:<6} {rule:<30} {count:>5}  oldest since {since:%Y-%m-%d}"
        for severity, rule, count, since in findings
    ] or ["  none"]
    return lines
