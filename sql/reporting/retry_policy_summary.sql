-- Question: how do live configs retry, and which values fall outside the documented ranges?
-- One row per (region, project_id, package) over the live configs. The documentation gives two
-- ranges for each setting: max_async_retry_attempts 0-3 (strict) or 0-8 (wider), and
-- max_async_event_age_in_seconds 60-86400 (strict) or 1-86400 (wider): see
-- staging.stg_async_invoke_configs (*_range), where they are written once.
-- *_outside_strict_range counts values outside the strict range (this includes those outside
-- every range); *_outside_documented_ranges counts values no documented range allows.
-- retry_attempt_counts maps each served retry value to its number of configs; *_missing count
-- configs where the value was not served or not an integer (NULL), which min/avg/max ignore.
-- dialect: duckdb
with configs as (
    select * from staging.stg_async_invoke_configs
    where is_current
),

per_retry_value as (
    select region, project_id, package, max_async_retry_attempts, count(*) as configs
    from configs
    where max_async_retry_attempts is not null
    group by all
),

retry_value_counts as (
    select
        region,
        project_id,
        package,
        map_from_entries(
            list((max_async_retry_attempts, configs) order by max_async_retry_attempts)
        ) as retry_attempt_counts
    from per_retry_value
    group by all
),

summary as (
    select
        region,
        project_id,
        package,
        count(*) as configs,
        min(max_async_retry_attempts) as min_retry_attempts,
        round(avg(max_async_retry_attempts), 2) as avg_retry_attempts,
        max(max_async_retry_attempts) as max_retry_attempts,
        count(*) filter (where max_async_retry_attempts is null) as retry_attempts_missing,
        count(*) filter (
            where retry_attempts_range <> 'strict'
        ) as retry_attempts_outside_strict_range,
        count(*) filter (
            where retry_attempts_range = 'outside'
        ) as retry_attempts_outside_documented_ranges,
        min(max_async_event_age_in_seconds) as min_event_age_seconds,
        round(avg(max_async_event_age_in_seconds), 2) as avg_event_age_seconds,
        max(max_async_event_age_in_seconds) as max_event_age_seconds,
        count(*) filter (where max_async_event_age_in_seconds is null) as event_age_missing,
        count(*) filter (
            where event_age_range <> 'strict'
        ) as event_age_outside_strict_range,
        count(*) filter (
            where event_age_range = 'outside'
        ) as event_age_outside_documented_ranges
    from configs
    group by all
)

select
    s.region,
    s.project_id,
    s.package,
    s.configs,
    s.min_retry_attempts,
    s.avg_retry_attempts,
    s.max_retry_attempts,
    coalesce(r.retry_attempt_counts, map()) as retry_attempt_counts,
    s.retry_attempts_missing,
    s.retry_attempts_outside_strict_range,
    s.retry_attempts_outside_documented_ranges,
    s.min_event_age_seconds,
    s.avg_event_age_seconds,
    s.max_event_age_seconds,
    s.event_age_missing,
    s.event_age_outside_strict_range,
    s.event_age_outside_documented_ranges
from summary as s
left join retry_value_counts as r
    on r.region = s.region and r.project_id = s.project_id and r.package = s.package
