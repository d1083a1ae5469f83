-- Question: since when, and until when, did each config break each policy rule?
-- One row per streak: an uninterrupted run of versions of one config that broke one rule
-- (a version that did not, or a gap while the config did not exist, ends the streak).
-- opened_at is the start of the streak's first version, closed_at the end of its last one (when
-- the config was changed to comply, or deleted); NULL while the live version still breaks it.
-- The rules are those in force when the models were last applied (see README, Policy rules).
with ordered as (
    select
        *,
        case
            when coalesce(lag(violates) over by_version, false)
                and lag(valid_to) over by_version = valid_from
                then 0
            else 1
        end as starts_streak
    from staging.stg_policy_evaluations
    window by_version as (partition by rule_id, func_urn order by valid_from)
),

numbered as (
    select
        *,
        sum(starts_streak) over (
            partition by rule_id, func_urn order by valid_from
            rows between unbounded preceding and current row
        ) as streak
    from ordered
)

select
    rule_id,
    severity,
    title,
    func_urn,
    function_urn,
    function_name,
    package,
    qualifier,
    region,
    project_id,
    min(valid_from) as opened_at,
    case when bool_or(is_current) then null else max(valid_to) end as closed_at,
    count(*) as versions
from numbered
where violates
group by
    rule_id, severity, title, func_urn, function_urn, function_name, package, qualifier, region,
    project_id, streak
