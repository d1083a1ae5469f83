"""The generated model `staging.stg_policy_evaluations`: every rule against every config version.

Rules are data, so this one model is written from them (each run, from the rules in force) and
applied with the SQL models in `sql/`; `reporting.policy_finding_history` and
`reporting.policy_findings` read it like any other model.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.models import Model
from pipelines.policy.checks import CHECKS, VERSIONS
from pipelines.policy.rules import Rule, load_rules, rules_path

VIEW = "stg_policy_evaluations"
_EMPTY = f"""select
    cast(null as text) as rule_id, cast(null as text) as severity, cast(null as text) as title,
    func_urn, function_urn, function_name, package, qualifier, region, project_id,
    valid_from, valid_to, is_current, false as violates, cast(null as text) as reason
from {VERSIONS} where false"""


def generated_models(path: Path | None = None) -> list[Model]:
    """The models written from the rules in force (`path`, else the configured rules)."""
    return [evaluations_model(load_rules(path or rules_path()))]


def evaluations_model(rules: list[Rule]) -> Model:
    """The model's SQL: one SELECT per rule over the versions in its scope, UNION ALL."""
    parts = [_rule_sql(rule) for rule in rules] or [_EMPTY]
    header = (
        "-- Generated from the policy rules in force (see README, Policy rules): one row per\n"
        "-- (rule, config version) in the rule's scope; violates says whether the version\n"
        "-- breaks the rule, reason why.\n"
    )
    return Model("staging", VIEW, "the policy rules", header + "\nunion all\n".join(parts))


def _rule_sql(rule: Rule) -> str:
    scope = "".join(
        f"\n    and s.{key} like {_literal(_like(pattern))} escape '\\'"
        for key, pattern in sorted(rule.scope.items())
    )
    return f"""select
    {_literal(rule.id)} as rule_id,
    {_literal(rule.severity)} as severity,
    {_literal(rule.title)} as title,
    s.func_urn, s.function_urn, s.function_name, s.package, s.qualifier, s.region, s.project_id,
    s.valid_from, s.valid_to, s.is_current,
    b.func_urn is not null as violates,
    b.reason
from {VERSIONS} as s
left join ({CHECKS[rule.check].select(rule.params)}) as b
    on b.func_urn = s.func_urn and b.valid_from = s.valid_from
where not s.is_shadowed{scope}"""


def _like(pattern: str) -> str:
    """A glob (`*`, `?`) as a LIKE pattern with `\\` as its escape character."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
