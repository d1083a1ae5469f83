-- Question: where do live configs send their results, and how many configs use each target?
-- One row per (destination, target) across all live configs: the bucket (OBS), topic URN (SMN),
-- stream name (DIS) or function URN as written in the param (FunctionGraph). on_success_configs
-- and on_failure_configs count configs using it on that side; total_configs counts distinct
-- configs (a config using it on both sides counts once); functions counts distinct functions.
-- A side whose target could not be read keeps target NULL, and target_missing_reason says why:
-- 'unknown destination type' (the connector reads targets of OBS, SMN, DIS and FunctionGraph
-- only), 'destination type missing' (a param without a destination) or 'param has no usable
-- target' (see the config's *_param_error). target_missing_reason is NULL when target is set.
-- Sides with no destination configured are not counted.
-- Portable SQL (DuckDB and PostgreSQL).
with used as (
    select
        *,
        case
            when target is not null then null
            when destination is null then 'destination type missing'
            when not destination_known then 'unknown destination type'
            else 'param has no usable target'
        end as target_missing_reason
    from staging.stg_async_invoke_config_sides
    where is_current and is_configured
)

select
    destination,
    target,
    target_missing_reason,
    count(*) filter (where side = 'on_success') as on_success_configs,
    count(*) filter (where side = 'on_failure') as on_failure_configs,
    count(distinct func_urn) as total_configs,
    count(distinct function_urn) as functions
from used
group by destination, target, target_missing_reason
