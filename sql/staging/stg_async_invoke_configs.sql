-- Staging: the loaded async-invoke configs, one row per config, columns in reporting order.
-- Every version ever loaded (history, see README): valid_from/valid_to bound each version,
-- is_current marks the live one. Only renames and orders columns, with one rule: should two
-- live rows ever share a func_urn (the loader deduplicates, so only an earlier version's data or
-- a hand edit can cause it), exactly one is current: the one whose func_urn belongs to its
-- function, then the newest, then the lowest function_urn. The others are is_shadowed.
-- The documented ranges live here, once: the API documents two ranges for each setting
-- (retries 0-3 or 0-8, event age 60-86400 or 1-86400 seconds), and *_range says where a value
-- falls: 'strict' (inside both), 'wider' (only the wider range allows it), 'outside' (no
-- documented range allows it), NULL when the value is missing.
-- failure_gap says why a version loses failed events silently (it retries or reports successes,
-- but has no failure destination), NULL when it does not: one definition for the report
-- (functions_without_failure_destination) and the policy rule (failure_destination_required).
with versions as (
    select
        *,
        case when _dlt_valid_to is null then row_number() over (
            partition by func_urn, _dlt_valid_to is null
            order by urn_error is null desc, _dlt_valid_from desc, function_urn
        ) end as live_rank
    from functiongraph.async_invoke_configs
)

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
    case
        when max_async_retry_attempts between 0 and 3 then 'strict'
        when max_async_retry_attempts between 0 and 8 then 'wider'
        when max_async_retry_attempts is not null then 'outside'
    end as retry_attempts_range,
    case
        when max_async_event_age_in_seconds between 60 and 86400 then 'strict'
        when max_async_event_age_in_seconds between 1 and 86400 then 'wider'
        when max_async_event_age_in_seconds is not null then 'outside'
    end as event_age_range,
    enable_async_status_log,
    on_success_destination,
    on_success_destination_known,
    on_success_target,
    on_success_target_function_urn,
    on_success_target_region,
    on_success_target_project_id,
    on_success_param,
    on_success_prefix,
    on_success_expires,
    on_success_param_error,
    on_failure_destination,
    on_failure_destination_known,
    on_failure_target,
    on_failure_target_function_urn,
    on_failure_target_region,
    on_failure_target_project_id,
    on_failure_param,
    on_failure_prefix,
    on_failure_expires,
    on_failure_param_error,
    created_time,
    created_time_raw,
    last_modified,
    last_modified_raw,
    urn_error,
    value_error,
    duplicate_note,
    extra_fields,
    _dlt_valid_from as valid_from,
    _dlt_valid_to as valid_to,
    coalesce(live_rank = 1, false) as is_current,
    coalesce(live_rank > 1, false) as is_shadowed,
    case when on_failure_destination is null then
        case
            when coalesce(max_async_retry_attempts, 0) > 0 and on_success_destination is not null
                then 'retries and reports successes, but not failures'
            when coalesce(max_async_retry_attempts, 0) > 0 then 'retries, then drops failures'
            when on_success_destination is not null then 'reports successes, but not failures'
        end
    end as failure_gap
from versions
