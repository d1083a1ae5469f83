"""Policy findings end to end: every packaged rule row for row (DuckDB and PostgreSQL), first_seen
from the history across runs, the user's rules, and the exit codes of `check`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.__main__ import main
from pipelines.policy.evaluations import generated_models
from pipelines.runner import refresh_models
from pipelines.sandbox import Estate, SandboxServer
from tests.support.estates import ALPHA, BETA, DELTA, PROJECT, REGION, TOKEN
from tests.support.loader import Loader
from tests.support.policy_estates import (
    EPSILON,
    ETA,
    GHOST,
    IOTA,
    THETA,
    ZETA,
    policy_estate,
)

FINDINGS = """
    select rule_id, severity, func_urn, reason from reporting.policy_findings
    order by rule_id, func_urn
"""
EXPECTED = [
    ("dangling_destination", "medium", f"{ETA}:latest",
     f"on_success -> {GHOST}:latest: target function is not live"),
    ("destination_cycle", "high", f"{EPSILON}:latest",
     f"on_failure -> {ZETA}:latest closes a loop"),
    ("destination_cycle", "high", f"{ZETA}:latest",
     f"on_failure -> {EPSILON}:latest closes a loop"),
    ("failure_destination_required", "high", f"{ALPHA}:v1", "retries, then drops failures"),
    ("failure_destination_required", "high", f"{DELTA}:v2", "reports successes, but not failures"),
    ("max_retries", "medium", f"{ETA}:latest", "8 retries, more than 3"),
    ("min_event_age", "low", f"{BETA}:latest", "events expire after 60 s, less than 300 s"),
    ("status_log_required", "low", f"{DELTA}:v3", "status log off"),
    ("agency_required", "medium", f"{THETA}:latest",
     "sends async results, but its function has no agency (xrole)"),
    ("function_disabled", "low", f"{IOTA}:latest",
     "its function is disabled (strategy_config.concurrency 0)"),
]  # fmt: skip


@pytest.fixture
def estate() -> Estate:
    return policy_estate()


def retries(loader: Loader, func_urn: str, value: int) -> None:
    served = next(c for c in loader.server.estate.all_configs() if c["func_urn"] == func_urn)
    loader.server.estate.upsert_config({**served, "max_async_retry_attempts": value})


def version_start(loader: Loader, func_urn: str) -> object:
    ((start,),) = loader.query(
        f"select valid_from from staging.stg_async_invoke_configs "
        f"where func_urn = '{func_urn}' and is_current"
    )
    return start


def test_every_packaged_rule_row_for_row(any_loader: Loader) -> None:
    any_loader.run()
    assert sorted(any_loader.query(FINDINGS)) == sorted(EXPECTED)


def test_first_seen_is_when_the_breach_began_not_when_it_was_checked(loader: Loader) -> None:
    loader.run()
    retries(loader, f"{ALPHA}:latest", 5)  # breaks max_retries from this run on
    loader.run()
    began = version_start(loader, f"{ALPHA}:latest")
    retries(loader, f"{DELTA}:latest", 4)
    loader.run()  # ALPHA unchanged, DELTA starts breaking
    rows = loader.query(
        "select func_urn, first_seen from reporting.policy_findings "
        "where rule_id = 'max_retries' order by func_urn"
    )
    assert rows == [
        (f"{DELTA}:latest", version_start(loader, f"{DELTA}:latest")),
        (f"{ALPHA}:latest", began),
        (f"{ETA}:latest", version_start(loader, f"{ETA}:latest")),
    ]
    assert began < version_start(loader, f"{DELTA}:latest")


def test_a_fixed_config_closes_its_finding_and_the_history_keeps_it(loader: Loader) -> None:
    loader.run()
    retries(loader, f"{ALPHA}:latest", 6)
    loader.run()
    opened = version_start(loader, f"{ALPHA}:latest")
    retries(loader, f"{ALPHA}:latest", 2)  # fixed
    loader.run()
    closed = version_start(loader, f"{ALPHA}:latest")
    retries(loader, f"{ALPHA}:latest", 7)  # broken again: a new streak
    loader.run()
    reopened = version_start(loader, f"{ALPHA}:latest")
    history = loader.query(
        "select opened_at, closed_at, versions from reporting.policy_finding_history "
        f"where rule_id = 'max_retries' and func_urn = '{ALPHA}:latest' order by opened_at"
    )
    assert history == [(opened, closed, 1), (reopened, None, 1)]
    assert loader.query(
        "select first_seen from reporting.policy_findings "
        f"where rule_id = 'max_retries' and func_urn = '{ALPHA}:latest'"
    ) == [(reopened,)]


def test_a_rule_written_later_finds_breaches_from_before_it(loader: Loader, tmp_path: Path) -> None:
    loader.run()
    retries(loader, f"{ALPHA}:!prod", 2)
    loader.run()
    began = version_start(loader, f"{ALPHA}:!prod")
    loader.run()
    rules = tmp_path / "prod.toml"
    rules.write_text(
        '[[rule]]\nid = "prod_never_retries"\ncheck = "max_retries"\nseverity = "high"\n'
        'title = "Production aliases never retry"\nparams = { limit = 0 }\n'
        'scope = { qualifier = "!prod*" }\n',
        encoding="utf-8",
    )
    refresh_models(loader.pipeline, generated=generated_models(rules))
    assert loader.query(
        "select func_urn, severity, reason, first_seen from reporting.policy_findings "
        "where rule_id = 'prod_never_retries'"
    ) == [(f"{ALPHA}:!prod", "high", "2 retries, more than 0", began)]


def test_a_deleted_config_closes_its_findings(loader: Loader) -> None:
    loader.run()
    loader.server.estate.delete_config(f"{DELTA}:v3")
    loader.run()
    assert ("status_log_required", "low", f"{DELTA}:v3", "status log off") not in loader.query(
        FINDINGS
    )
    ((closed,),) = loader.query(
        "select closed_at from reporting.policy_finding_history "
        f"where rule_id = 'status_log_required' and func_urn = '{DELTA}:v3'"
    )
    assert closed is not None


# -- the check command ---------------------------------------------------------------------------


@pytest.fixture
def loaded(loader: Loader, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A DuckDB file with the policy estate loaded, and no policy configured in the environment."""
    loader.run()
    monkeypatch.delenv("FGS__POLICY_RULES", raising=False)
    yield loader.database


def test_check_exits_3_on_findings_at_or_above_the_threshold(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--database", loaded]) == 3  # high findings exist
    out = capsys.readouterr().out
    assert (
        "high    destination_cycle: No loops of functions calling functions — 2 finding(s)" in out
    )
    assert "low     status_log_required: Async status logging on — 1 finding(s)" in out
    assert out.rstrip().endswith("10 finding(s) of 8 rule(s); 4 at or above high: failing (exit 3)")


def test_check_passes_when_nothing_reaches_the_threshold(
    loaded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        "".join(
            f'[[rule]]\nid = "{rule}"\nseverity = "low"\n'
            for rule in ("failure_destination_required", "destination_cycle")
        ),
        encoding="utf-8",
    )
    assert main(["check", "--database", loaded, "--rules", str(rules)]) == 0
    assert main(["check", "--database", loaded, "--rules", str(rules), "--fail-on", "medium"]) == 3
    capsys.readouterr()


def test_check_json_lists_every_rule_with_its_findings(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--database", loaded, "--format", "json", "--fail-on", "low"]) == 3
    document = json.loads(capsys.readouterr().out)
    assert (document["ok"], document["failing"], document["findings"]) == (False, 10, 10)
    counts = {rule["id"]: rule["count"] for rule in document["rules"]}
    assert counts == {
        "failure_destination_required": 2,
        "destination_cycle": 2,
        "dangling_destination": 1,
        "max_retries": 1,
        "min_event_age": 1,
        "agency_required": 1,
        "function_disabled": 1,
        "status_log_required": 1,
    }
    (finding,) = next(r for r in document["rules"] if r["id"] == "max_retries")["findings"]
    assert finding["func_urn"] == f"{ETA}:latest" and finding["first_seen"].startswith("20")


def test_wrong_rules_exit_2_and_change_nothing(
    loaded: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "max_retries"\nseverity = "urgent"\n', encoding="utf-8")
    assert main(["check", "--database", loaded, "--rules", str(rules)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: policy rules ") and "`severity` must be one of" in err
    assert main(["check", "--database", loaded]) == 3  # the views are still those of the pack


def test_run_refuses_wrong_rules_before_fetching(
    sandbox: SandboxServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nid = "max_retries"\nparams = { limit = "3" }\n', encoding="utf-8")
    monkeypatch.setenv("FGS__POLICY_RULES", str(rules))
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__REGION", REGION)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__PROJECT_ID", PROJECT)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__ENDPOINT", sandbox.url)
    monkeypatch.setenv("SOURCES__FUNCTIONGRAPH__CREDENTIALS__AUTH_TOKEN", TOKEN)
    database = tmp_path / "fgs.duckdb"
    assert main(["run", "--database", str(database)]) == 2
    assert "params.limit must be" in capsys.readouterr().err
    assert not sandbox.requests_seen and not database.exists()


def test_check_without_a_database_fails_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--database", str(tmp_path / "none.duckdb")]) == 1
    assert "run `python -m pipelines run` first" in capsys.readouterr().err
    assert not (tmp_path / "none.duckdb").exists()


def test_report_prints_the_findings_per_rule(
    loaded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--database", loaded]) == 0
    out = capsys.readouterr().out
    assert "Policy findings (reporting.policy_findings; `check` alerts on them):" in out
    assert "  high   destination_cycle                  2  oldest since" in out
