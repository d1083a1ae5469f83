-- Question: what changed, when, and what was removed?
-- One row per change a run detected: 'created' (a func_urn with no version just before),
-- 'updated' (a new version replaced the previous one at the same instant), 'deleted' (a version
-- ended and nothing replaced it). detected_at is the start of the load that saw the change.
-- changed_fields lists the columns whose values differ between the old and the new version.
with versions as (
    select * from staging.stg_async_invoke_configs
),

starts as (
    select
        new.func_urn,
        case when old.func_urn is null then 'created' else 'updated' end as change_type,
        new.valid_from as detected_at,
        old as old_version,
        new as new_version
    from versions as new
    left join versions as old
        on old.func_urn = new.func_urn and old.valid_to = new.valid_from
),

ends as (
    select
        old.func_urn,
        'deleted' as change_type,
        old.valid_to as detected_at,
        old as old_version,
        null as new_version
    from versions as old
    left join versions as new
        on new.func_urn = old.func_urn and new.valid_from = old.valid_to
    where old.valid_to is not null and new.func_urn is null
),

changes as (
    select * from starts
    union all
    select * from ends
)

select
    func_urn,
    change_type,
    detected_at,
    coalesce(new_version.function_urn, old_version.function_urn) as function_urn,
    coalesce(new_version.region, old_version.region) as region,
    coalesce(new_version.project_id, old_version.project_id) as project_id,
    case when change_type = 'updated' then list_filter([
        case when old_version.max_async_event_age_in_seconds
            is distinct from new_version.max_async_event_age_in_seconds
            then 'max_async_event_age_in_seconds' end,
        case when old_version.max_async_retry_attempts
            is distinct from new_version.max_async_retry_attempts
            then 'max_async_retry_attempts' end,
        case when old_version.enable_async_status_log
            is distinct from new_version.enable_async_status_log
            then 'enable_async_status_log' end,
        case when old_version.on_success_destination
            is distinct from new_version.on_success_destination
            then 'on_success_destination' end,
        case when old_version.on_success_param is distinct from new_version.on_success_param
            then 'on_success_param' end,
        case when old_version.on_failure_destination
            is distinct from new_version.on_failure_destination
            then 'on_failure_destination' end,
        case when old_version.on_failure_param is distinct from new_version.on_failure_param
            then 'on_failure_param' end,
        case when old_version.last_modified_raw is distinct from new_version.last_modified_raw
            then 'last_modified' end,
        case when old_version.extra_fields is distinct from new_version.extra_fields
            then 'extra_fields' end
    ], field -> field is not null) end as changed_fields,
    old_version.max_async_retry_attempts as old_max_async_retry_attempts,
    new_version.max_async_retry_attempts as new_max_async_retry_attempts,
    old_version.max_async_event_age_in_seconds as old_max_async_event_age_in_seconds,
    new_version.max_async_event_age_in_seconds as new_max_async_event_age_in_seconds,
    old_version.on_success_destination as old_on_success_destination,
    new_version.on_success_destination as new_on_success_destination,
    old_version.on_success_target as old_on_success_target,
    new_version.on_success_target as new_on_success_target,
    old_version.on_failure_destination as old_on_failure_destination,
    new_version.on_failure_destination as new_on_failure_destination,
    old_version.on_failure_target as old_on_failure_target,
    new_version.on_failure_target as new_on_failure_target
from changes
