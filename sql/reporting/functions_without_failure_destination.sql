-- Question: which configs lose failed async events silently?
-- A config that retries (max_async_retry_attempts > 0) or reports successes somewhere, but has
-- no failure destination: once retries run out, the event is dropped and nobody is told.
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
    case
        when coalesce(max_async_retry_attempts, 0) > 0 and on_success_destination is not null
            then 'retries and reports successes, but not failures'
        when coalesce(max_async_retry_attempts, 0) > 0 then 'retries, then drops failures'
        else 'reports successes, but not failures'
    end as reason
from reporting.current_async_invoke_configs
where on_failure_destination is null
    and (coalesce(max_async_retry_attempts, 0) > 0 or on_success_destination is not null)
