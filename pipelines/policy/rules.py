"""Policy rules as data: the packaged pack plus the user's own, validated before anything runs.

A rule says *which* check applies, how serious a breach is, where it applies (its scope) and with
which parameters; the checks themselves are SQL kept in `checks`. Rules live in TOML so that a
platform team can review them like any other configuration, and every mistake in them is a
`ConfigError` naming the file, the rule and the key (exit 2), never a half-applied policy.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import dlt

from pipelines.functiongraph.errors import ConfigError
from pipelines.policy.checks import CHECKS
from pipelines.policy.severity import SEVERITIES

SCOPE_KEYS = ("region", "project_id", "package", "function_name", "qualifier")
RULES_KEY = "fgs.policy_rules"
RULES_ENV = "FGS__POLICY_RULES"
_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_RULE_KEYS = {"id", "title", "severity", "check", "params", "scope", "enabled"}
_PATTERN = re.compile(r"^[A-Za-z0-9_.:!*?\-]{1,200}$")


@dataclass(frozen=True)
class Rule:
    """One rule, validated: its check exists and its parameters fit that check."""

    id: str
    title: str
    severity: str
    check: str
    params: dict[str, int] = field(default_factory=dict)
    scope: dict[str, str] = field(default_factory=dict)
    """Glob patterns (`*`, `?`) a config must match on every key given, e.g. qualifier `!prod*`."""
    source: str = "packaged"

    def at_least(self, threshold: str) -> bool:
        """Whether this rule is as serious as `threshold` or more."""
        return SEVERITIES.index(self.severity) <= SEVERITIES.index(threshold)


def rules_path(given: str | None = None) -> Path | None:
    """`--rules`, else dlt's config `fgs.policy_rules` (env FGS__POLICY_RULES), else none."""
    path = given or dlt.config.get(RULES_KEY, str)
    return Path(path).expanduser().absolute() if path else None


def load_rules(path: Path | None = None) -> list[Rule]:
    """The packaged rules merged with the user's (a TOML file, or a folder of them), enabled ones
    only, in the order they were declared."""
    packaged = files("pipelines.policy").joinpath("default_rules.toml").read_text("utf-8")
    declared = _declarations(tomllib.loads(packaged), "the packaged rules")
    for file in _rule_files(path) if path else []:
        try:
            document = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"policy rules {file}: {exc}") from None
        for rule_id, keys in _declarations(document, str(file)).items():
            if rule_id in declared:
                keys = {**declared[rule_id], **keys, "source": str(file)}
            declared[rule_id] = keys
    rules = [_rule(keys) for keys in declared.values() if keys.get("enabled", True)]
    return rules


def _rule_files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(path.glob("*.toml"))
        if not found:
            raise ConfigError(f"policy rules: the folder {path} has no .toml file ({RULES_ENV})")
        return found
    if not path.is_file():
        raise ConfigError(f"policy rules: {path} does not exist ({RULES_ENV} or --rules)")
    return [path]


def _declarations(document: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """The `[[rule]]` tables of one document, by id, with their origin; unknown keys refused."""
    unknown = sorted(set(document) - {"rule"})
    if unknown:
        raise ConfigError(f"policy rules {where}: unknown top-level key(s) {', '.join(unknown)}")
    tables = document.get("rule", [])
    if not isinstance(tables, list):
        raise ConfigError(f"policy rules {where}: write each rule as a [[rule]] table")
    declared: dict[str, dict[str, Any]] = {}
    for number, table in enumerate(tables, start=1):
        rule_id = table.get("id")
        name = f"rule {rule_id!r}" if isinstance(rule_id, str) else f"rule #{number}"
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            raise ConfigError(
                f"policy rules {where}, {name}: `id` must be lower-case letters, digits and _"
            )
        extra = sorted(set(table) - _RULE_KEYS)
        if extra:
            raise ConfigError(
                f"policy rules {where}, {name}: unknown key(s) {', '.join(extra)} "
                f"(a rule has {', '.join(sorted(_RULE_KEYS))})"
            )
        if rule_id in declared:
            raise ConfigError(f"policy rules {where}: {name} is declared twice")
        declared[rule_id] = {**table, "source": where}
    return declared


def _rule(keys: dict[str, Any]) -> Rule:
    """A validated rule from its merged keys."""
    rule_id, where = keys["id"], keys["source"]
    name = f"policy rules {where}, rule {rule_id!r}"
    check_name = keys.get("check", rule_id)
    check = CHECKS.get(check_name)
    if check is None:
        raise ConfigError(
            f"{name}: no check named {check_name!r}; set `check` to one of "
            f"{', '.join(sorted(CHECKS))}"
        )
    title = keys.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 200:
        raise ConfigError(f"{name}: `title` must be a text of 1 to 200 characters")
    severity = keys.get("severity")
    if severity not in SEVERITIES:
        raise ConfigError(f"{name}: `severity` must be one of {', '.join(SEVERITIES)}")
    if not isinstance(keys.get("enabled", True), bool):
        raise ConfigError(f"{name}: `enabled` must be true or false")
    params = _table(keys.get("params", {}), name, "params")
    unknown = sorted(set(params) - set(check.params))
    if unknown:
        allowed = ", ".join(sorted(check.params)) or "none"
        raise ConfigError(f"{name}: unknown param(s) {', '.join(unknown)} (allowed: {allowed})")
    values = {**check.params, **params}
    for key, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**9:
            raise ConfigError(f"{name}: params.{key} must be a whole number from 0 to 10^9")
    try:
        title = title.strip().format(**values)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(
            f"{name}: `title` may name only its params in braces, e.g. {{limit}} ({exc})"
        ) from None
    scope = _table(keys.get("scope", {}), name, "scope")
    for key, pattern in scope.items():
        if key not in SCOPE_KEYS:
            raise ConfigError(
                f"{name}: unknown scope key {key!r} (allowed: {', '.join(SCOPE_KEYS)})"
            )
        if not isinstance(pattern, str) or not _PATTERN.match(pattern):
            raise ConfigError(
                f"{name}: scope.{key} must be a pattern of letters, digits, . _ - : ! and the "
                "wildcards * and ?"
            )
    return Rule(rule_id, title, severity, check_name, values, dict(scope), where)


def _table(value: object, name: str, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{name}: `{key}` must be a table, e.g. {key} = {{ ... }}")
    return value
