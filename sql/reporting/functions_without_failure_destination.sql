-- Question: which configs lose failed async events silently?
-- A config that retries (max_async_retry_attempts > 0) or reports successes somewhere, but has
-- no failure destination: once retries run out, the event is dropped and nobody is told.
-- (The reason, failure_gap, is defined once in staging; the policy rule
-- failure_destination_required reads the same column.)
select
    func_urn,
    function_name,
    package,
    qualifier,
    region,
    project_id,
    max_async_retry_attempts,
    max_async_event_age_in_seconds,
    on_success_destination,
    on_success_target,
    failure_gap as reason
from staging.stg_async_invoke_configs
where is_current and failure_gap is not null
