-- Question: which live configs break which policy rule now, and since when?
-- One row per (rule, config) violation. first_seen is when this config started breaking this
-- rule without interruption, read from the history (so it can be earlier than the rule itself);
-- reason says why, in words, from the live version. Severity and title come from the rules in
-- force (see README, Policy rules); `python -m pipelines check` reads this view.
select
    h.rule_id,
    h.severity,
    h.title,
    h.func_urn,
    h.function_urn,
    h.function_name,
    h.package,
    h.qualifier,
    h.region,
    h.project_id,
    e.reason,
    h.opened_at as first_seen
from reporting.policy_finding_history as h
join staging.stg_policy_evaluations as e
    on e.rule_id = h.rule_id and e.func_urn = h.func_urn and e.is_current
where h.closed_at is null
