"""What `check` prints: the findings of `reporting.policy_findings`, grouped by rule.

The exit code is the alert: findings at or above `--fail-on` make `check` exit 3, so a scheduler
can fail the nightly job on them (the codes 1 and 2 keep their meaning: a failed run, a wrong
configuration).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pipelines.policy.rules import Rule
from pipelines.policy.severity import SEVERITIES, most_serious_first

SHOWN_PER_RULE = 10


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str
    title: str
    func_urn: str
    region: str
    project_id: str
    reason: str | None
    first_seen: datetime


def read_findings(client: Any) -> list[Finding]:
    """Every finding, most serious rule first, then the oldest breach first."""
    rows = client.execute_sql(
        "select rule_id, severity, title, func_urn, region, project_id, reason, first_seen "
        f"from reporting.policy_findings order by {most_serious_first()}, rule_id, first_seen, "
        "func_urn"
    )
    return [Finding(*row) for row in rows]


def failing(findings: list[Finding], rules: list[Rule], fail_on: str) -> list[Finding]:
    """The findings of rules at least as serious as `fail_on`."""
    serious = {rule.id for rule in rules if rule.at_least(fail_on)}
    return [finding for finding in findings if finding.rule_id in serious]


def render_text(findings: list[Finding], rules: list[Rule], fail_on: str) -> list[str]:
    """Per rule (every rule in force, clean ones too): severity, id, title, count, examples."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    lines = []
    ordered = sorted(rules, key=lambda rule: (SEVERITIES.index(rule.severity), rule.id))
    for rule in ordered:
        found = by_rule.get(rule.id, [])
        status = f"{len(found)} finding(s)" if found else "ok"
        lines.append(f"{rule.severity:<6}  {rule.id}: {rule.title} — {status}")
        for finding in found[:SHOWN_PER_RULE]:
            since = finding.first_seen.strftime("%Y-%m-%d %H:%M")
            lines.append(f"    {finding.func_urn}  since {since}  ({finding.reason})")
        if len(found) > SHOWN_PER_RULE:
            lines.append(
                f"    ... and {len(found) - SHOWN_PER_RULE} more: select * from "
                f"reporting.policy_findings where rule_id = '{rule.id}'"
            )
    bad = failing(findings, rules, fail_on)
    lines.append(
        f"{len(findings)} finding(s) of {len(rules)} rule(s); {len(bad)} at or above {fail_on}"
        + (": failing (exit 3)" if bad else ": passing")
    )
    return lines


def render_json(findings: list[Finding], rules: list[Rule], fail_on: str) -> str:
    """The same, for machines: every rule with its findings, and whether the check fails."""
    by_rule: dict[str, list[dict[str, Any]]] = {rule.id: [] for rule in rules}
    for finding in findings:
        row = asdict(finding)
        row["first_seen"] = finding.first_seen.isoformat()
        by_rule.setdefault(finding.rule_id, []).append(row)
    bad = failing(findings, rules, fail_on)
    document = {
        "fail_on": fail_on,
        "failing": len(bad),
        "findings": len(findings),
        "ok": not bad,
        "rules": [
            {
                "id": rule.id,
                "title": rule.title,
                "severity": rule.severity,
                "check": rule.check,
                "params": rule.params,
                "scope": rule.scope,
                "source": rule.source,
                "count": len(by_rule[rule.id]),
                "findings": by_rule[rule.id],
            }
            for rule in rules
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True)
