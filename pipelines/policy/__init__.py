"""Policy rules: which configs break the organisation's rules, and since when.

- `rules`: rules are data, the packaged pack (`default_rules.toml`) plus the user's TOML,
  validated before anything runs; `severity` holds the levels (kept light for the command line);
- `checks`: what each rule can check, as SQL over every config version;
- `evaluations`: the one model generated from the rules, `staging.stg_policy_evaluations`, which
  `sql/reporting/policy_finding_history.sql` and `policy_findings.sql` read;
- `findings`: what `python -m pipelines check` prints, and its exit code.

Nothing is imported here, so that `python -m pipelines --help` stays instant.
"""
