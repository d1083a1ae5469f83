-- Question: what changed, when, and what was removed?
-- One row per change a run detected: 'created' (a func_urn with no version just before),
-- 'updated' (a new version replaced the previous one at the same instant), 'deleted' (a version
-- ended and nothing replaced it). detected_at is the start of the load that saw the change.
-- changed_fields names the columns that differ between the old and the new version of an
-- update, comma-separated; old_*/new_* hold the values before and after.
-- Portable SQL (DuckDB and PostgreSQL).
with versions as (
    select * from staging.stg_async_invoke_configs
),

starts as (
    select
        new.func_urn,
        case when old.func_urn is null then 'created' else 'updated' end as change_type,
        new.valid_from as detected_at,
        new.function_urn,
        new.region,
        new.project_id,
        case when old.func_urn is not null then nullif(concat_ws(
            ', ',
            case when old.max_async_event_age_in_seconds is distinct from new.max_async_event_age_in_seconds then 'max_async_event_age_in_seconds' end,
            case when old.max_async_retry_attempts is distinct from new.max_async_retry_attempts then 'max_async_retry_attempts' end,
            case when old.enable_async_status_log is distinct from new.enable_async_status_log then 'enable_async_status_log' end,
            case when old.on_success_destination is distinct from new.on_success_destination then 'on_success_destination' end,
            case when old.on_success_param is distinct from new.on_success_param then 'on_success_param' end,
            case when old.on_failure_destination is distinct from new.on_failure_destination then 'on_failure_destination' end,
            case when old.on_failure_param is distinct from new.on_failure_param then 'on_failure_param' end,
            case when old.last_modified_raw is distinct from new.last_modified_raw then 'last_modified' end,
            case when old.extra_fields is distinct from new.extra_fields then 'extra_fields' end
        ), '') end as changed_fields,
        old.max_async_retry_attempts as old_max_async_retry_attempts,
        new.max_async_retry_attempts as new_max_async_retry_attempts,
        old.max_async_event_age_in_seconds as old_max_async_event_age_in_seconds,
        new.max_async_event_age_in_seconds as new_max_async_event_age_in_seconds,
        old.on_success_destination as old_on_success_destination,
        new.on_success_destination as new_on_success_destination,
        old.on_success_target as old_on_success_target,
        new.on_success_target as new_on_success_target,
        old.on_failure_destination as old_on_failure_destination,
        new.on_failure_destination as new_on_failure_destination,
        old.on_failure_target as old_on_failure_target,
        new.on_failure_target as new_on_failure_target
    from versions as new
    left join versions as old
        on old.func_urn = new.func_urn and old.valid_to = new.valid_from
),

ends as (
    select
        old.func_urn,
        'deleted' as change_type,
        old.valid_to as detected_at,
        old.function_urn,
        old.region,
        old.project_id,
        cast(null as text) as changed_fields,
        old.max_async_retry_attempts as old_max_async_retry_attempts,
        cast(null as bigint) as new_max_async_retry_attempts,
        old.max_async_event_age_in_seconds as old_max_async_event_age_in_seconds,
        cast(null as bigint) as new_max_async_event_age_in_seconds,
        old.on_success_destination as old_on_success_destination,
        cast(null as text) as new_on_success_destination,
        old.on_success_target as old_on_success_target,
        cast(null as text) as new_on_success_target,
        old.on_failure_destination as old_on_failure_destination,
        cast(null as text) as new_on_failure_destination,
        old.on_failure_target as old_on_failure_target,
        cast(null as text) as new_on_failure_target
    from versions as old
    left join versions as new
        on new.func_urn = old.func_urn and new.valid_from = old.valid_to
    where old.valid_to is not null and new.func_urn is null
)

select * from starts
union all
select * from ends
