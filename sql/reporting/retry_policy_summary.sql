-- Question: how do live configs retry, and which served values break the API's documented range?
-- One row per (region, project_id, package) over the live configs.
-- The API documents the values it serves as max_async_retry_attempts 0-8 and
-- max_async_event_age_in_seconds 60-86400; *_outside_api_range count the configs whose value
-- contradicts that (the ranges are written once, in staging.stg_async_invoke_configs: retries
-- outside 0-8 are retry_attempts_range 'outside', event ages outside 60-86400 are any
-- event_age_range but 'strict'). Stricter house rules, such as "no more than 3 retries", are
-- policies, not API facts: they are not counted here, and retry_attempt_counts shows the spread.
-- retry_attempt_counts is a JSON object (as text) of configs per served retry value, smallest
-- value first, e.g. {"0": 1, "3": 9, "9": 1}; {} when no config has one. *_missing count configs
-- where the value was not served or not an integer (NULL), which min/avg/max ignore; averages are
-- rounded to 2 decimals.
with configs as (
    select * from staging.stg_async_invoke_configs
    where is_current
),

per_retry_value as (
    select region, project_id, package, max_async_retry_attempts, count(*) as configs
    from configs
    where max_async_retry_attempts is not null
    group by region, project_id, package, max_async_retry_attempts
),

retry_value_counts as (
    select
        region,
        project_id,
        package,
        '{' || string_agg(
            '"' || cast(max_async_retry_attempts as text) || '": ' || cast(configs as text),
            ', ' order by max_async_retry_attempts
        ) || '}' as retry_attempt_counts
    from per_retry_value
    group by region, project_id, package
),

summary as (
    select
        region,
        project_id,
        package,
        count(*) as configs,
        min(max_async_retry_attempts) as min_retry_attempts,
        -- through a decimal, so that both databases round the same exact value
        cast(
            round(cast(avg(max_async_retry_attempts) as decimal(38, 10)), 2) as double precision
        ) as avg_retry_attempts,
        max(max_async_retry_attempts) as max_retry_attempts,
        count(*) filter (where max_async_retry_attempts is null) as retry_attempts_missing,
        count(*) filter (
            where retry_attempts_range = 'outside'
        ) as retry_attempts_outside_api_range,
        min(max_async_event_age_in_seconds) as min_event_age_seconds,
        cast(
            round(cast(avg(max_async_event_age_in_seconds) as decimal(38, 10)), 2)
            as double precision
        ) as avg_event_age_seconds,
        max(max_async_event_age_in_seconds) as max_event_age_seconds,
        count(*) filter (where max_async_event_age_in_seconds is null) as event_age_missing,
        count(*) filter (
            where event_age_range <> 'strict'
        ) as event_age_outside_api_range
    from configs
    group by region, project_id, package
)

select
    s.region,
    s.project_id,
    s.package,
    s.configs,
    s.min_retry_attempts,
    s.avg_retry_attempts,
    s.max_retry_attempts,
    coalesce(r.retry_attempt_counts, '{}') as retry_attempt_counts,
    s.retry_attempts_missing,
    s.retry_attempts_outside_api_range,
    s.min_event_age_seconds,
    s.avg_event_age_seconds,
    s.max_event_age_seconds,
    s.event_age_missing,
    s.event_age_outside_api_range
from summary as s
left join retry_value_counts as r
    on r.region = s.region and r.project_id = s.project_id and r.package = s.package
