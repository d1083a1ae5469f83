-- Question: which async-invoke configs are live right now, and where do their results go?
-- One row per live config (func_urn is unique). This view is a public contract: its columns
-- are relied on by users' automation; adding columns is fine, renaming or removing is breaking.
select
    func_urn,
    function_urn,
    function_name,
    package,
    qualifier,
    qualifier_kind,
    region,
    project_id,
    max_async_event_age_in_seconds,
    max_async_retry_attempts,
    enable_async_status_log,
    on_success_destination,
    on_success_target,
    on_success_param,
    on_success_param_error,
    on_failure_destination,
    on_failure_target,
    on_failure_param,
    on_failure_param_error,
    created_time,
    last_modified,
    valid_from
from staging.stg_async_invoke_configs
where is_current
