-- Question: which live configs send results to a target that is not there, or not ours?
-- One row per (config, side) with at least one problem, listed in `problem` (joined by '; '):
--   'target is not a function URN'  FunctionGraph target that is not
--                                   urn:fss:{region}:{project_id}:function:{package}:{name}[:q]
--   'target is not an SMN topic URN'  SMN target that is not urn:smn:{region}:{project_id}:{topic}
--   'target function is not live'   the target's unqualified URN is no live function, although
--                                   its project was loaded (target_deleted_at says when it went
--                                   away, NULL when it was never seen)
--   'target is in another region'   SMN topic or function outside the config's region
--   'target is in another project'  SMN topic or function outside the config's project
-- target_exists is true/false for function targets of a loaded project, and NULL when it cannot
-- be known (the target's project was not loaded, or the target is not a function URN / is SMN).
with targets as (
    select * from staging.stg_async_invoke_config_sides
    where is_current and destination in ('FunctionGraph', 'SMN') and target is not null
),

loaded_projects as (
    select distinct region, project_id from staging.stg_functions
),

function_history as (
    select
        function_urn,
        bool_or(is_current) as is_live,
        max(valid_to) as deleted_at
    from staging.stg_functions
    group by function_urn
),

checked as (
    select
        t.func_urn,
        t.function_urn,
        t.region,
        t.project_id,
        t.side,
        t.destination,
        t.target,
        t.target_function_urn,
        t.target_region,
        t.target_project_id,
        case
            when t.target_function_urn is not null and p.project_id is not null
                then coalesce(h.is_live, false)
        end as target_exists,
        case when not coalesce(h.is_live, false) then h.deleted_at end as target_deleted_at
    from targets as t
    left join loaded_projects as p
        on p.region = t.target_region and p.project_id = t.target_project_id
    left join function_history as h on h.function_urn = t.target_function_urn
),

problems as (
    select
        *,
        case when destination = 'FunctionGraph' and target_function_urn is null
            then 'target is not a function URN' end as not_a_function_urn,
        case when destination = 'SMN' and target_region is null
            then 'target is not an SMN topic URN' end as not_a_topic_urn,
        case when not target_exists then 'target function is not live' end as not_live,
        case when target_region <> region then 'target is in another region' end as other_region,
        case when target_project_id <> project_id
            then 'target is in another project' end as other_project
    from checked
)

select
    func_urn,
    function_urn,
    region,
    project_id,
    side,
    destination,
    target,
    target_function_urn,
    target_region,
    target_project_id,
    target_exists,
    target_deleted_at,
    -- concat_ws skips the NULLs: only the problems found, in the order listed above
    concat_ws('; ', not_a_function_urn, not_a_topic_urn, not_live, other_region, other_project)
        as problem
from problems
where coalesce(not_a_function_urn, not_a_topic_urn, not_live, other_region, other_project)
    is not null
