"""Policy rules as data: the packaged pack, the user's additions and overrides, and every mistake
refused with a message naming the file, the rule and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.functiongraph.errors import ConfigError
from pipelines.policy.checks import CHECKS
from pipelines.policy.evaluations import _like, evaluations_model
from pipelines.policy.rules import Rule, load_rules

PACKAGED = [
    "failure_destination_required",
    "destination_cycle",
    "dangling_destination",
    "max_retries",
    "min_event_age",
    "agency_required",
    "function_disabled",
    "status_log_required",
]


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def by_id(rules: list[Rule]) -> dict[str, Rule]:
    return {rule.id: rule for rule in rules}


def test_the_packaged_pack() -> None:
    rules = load_rules()
    assert [rule.id for rule in rules] == PACKAGED
    assert {rule.check for rule in rules} <= set(CHECKS)
    retries = by_id(rules)["max_retries"]
    assert (retries.severity, retries.params, retries.title) == (
        "medium",
        {"limit": 3},
        "At most 3 retries",
    )
    assert by_id(rules)["failure_destination_required"].severity == "high"


def test_user_rules_add_override_and_disable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [[rule]]
        id = "max_retries"
        params = { limit = 5 }

        [[rule]]
        id = "status_log_required"
        enabled = false

        [[rule]]
        id = "prod_never_retries"
        check = "max_retries"
        title = "Production aliases retry at most {limit} times"
        severity = "high"
        params = { limit = 0 }
        scope = { qualifier = "!prod*", project_id = "a1b2*" }
        """,
    )
    rules = by_id(load_rules(path))
    assert "status_log_required" not in rules
    assert rules["max_retries"].params == {"limit": 5}
    assert rules["max_retries"].title == "At most 5 retries"  # the packaged title, new limit
    assert rules["max_retries"].severity == "medium" and rules["max_retries"].source == str(path)
    prod = rules["prod_never_retries"]
    assert (prod.check, prod.severity, prod.params) == ("max_retries", "high", {"limit": 0})
    assert prod.scope == {"qualifier": "!prod*", "project_id": "a1b2*"}
    assert prod.title == "Production aliases retry at most 0 times"


def test_a_folder_of_rule_files_is_read_in_name_order(tmp_path: Path) -> None:
    write(tmp_path, '[[rule]]\nid = "max_retries"\nparams = { limit = 4 }\n', "a.toml")
    write(tmp_path, '[[rule]]\nid = "max_retries"\nparams = { limit = 6 }\n', "b.toml")
    write(tmp_path, "not toml at all", "notes.txt")
    assert by_id(load_rules(tmp_path))["max_retries"].params == {"limit": 6}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[rule]]\nid = "x"\ncheck = "nope"\ntitle = "t"\nseverity = "high"', "no check named"),
        ('[[rule]]\nid = "max_retries"\nseverity = "critical"', "`severity` must be one of"),
        ('[[rule]]\nid = "max_retries"\nparams = { limt = 1 }', "unknown param(s) limt"),
        ('[[rule]]\nid = "max_retries"\nparams = { limit = -1 }', "params.limit must be"),
        ('[[rule]]\nid = "max_retries"\nparams = { limit = "3" }', "params.limit must be"),
        ('[[rule]]\nid = "max_retries"\nparams = { limit = true }', "params.limit must be"),
        ('[[rule]]\nid = "max_retries"\nscope = { alias = "!prod" }', "unknown scope key"),
        ('[[rule]]\nid = "max_retries"\nscope = { qualifier = "x\'; drop" }', "scope.qualifier"),
        ('[[rule]]\nid = "max_retries"\nscope = "prod"', "`scope` must be a table"),
        ('[[rule]]\nid = "max_retries"\nenabled = "no"', "`enabled` must be true or false"),
        ('[[rule]]\nid = "max_retries"\ntitle = "{nope}"', "`title` may name only its params"),
        ('[[rule]]\nid = "max_retries"\ntitle = ""', "`title` must be a text"),
        ('[[rule]]\nid = "Max Retries"', "`id` must be lower-case"),
        ('[[rule]]\ntitle = "no id"', "`id` must be lower-case"),
        ('[[rule]]\nid = "max_retries"\nlimit = 3', "unknown key(s) limit"),
        ('[[rule]]\nid = "a"\n[[rule]]\nid = "a"', "rule 'a' is declared twice"),
        ('[rules]\nid = "a"', "unknown top-level key(s) rules"),
        ('rule = "x"', "write each rule as a [[rule]] table"),
        ("[[rule]\nid=", "policy rules"),  # not TOML
        ('[[rule]]\nid = "new_rule"\ncheck = "max_retries"', "`title` must be a text"),
    ],
)
def test_mistakes_are_refused_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_rules(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_missing_file_or_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_rules(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"has no \.toml file"):
        load_rules(tmp_path)


@pytest.mark.parametrize(
    ("glob", "like"),
    [
        ("!prod*", "!prod%"),
        ("v?", "v_"),
        ("a_b", "a\\_b"),
        ("exact", "exact"),
    ],
)
def test_scope_globs_become_escaped_like_patterns(glob: str, like: str) -> None:
    assert _like(glob) == like


def test_the_generated_model_has_one_select_per_rule_and_inlines_scopes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[rule]]\nid = "max_retries"\nscope = { qualifier = "!prod*" }\n'
        '[[rule]]\nid = "status_log_required"\nenabled = false\n',
    )
    model = evaluations_model(load_rules(path))
    assert model.view == "staging.stg_policy_evaluations"
    assert model.sql.count("union all") == len(PACKAGED) - 2
    assert "s.qualifier like '!prod%' escape '\\'" in model.sql
    assert "max_async_retry_attempts > 3" in model.sql
    assert model.references() >= {
        "staging.stg_async_invoke_configs",
        "reporting.destination_cycles",
        "reporting.dangling_destinations",
    }


def test_no_rules_still_make_a_model_with_the_same_columns() -> None:
    model = evaluations_model([])
    assert "where false" in model.sql and "violates" in model.sql
