-- Question: which live functions have no async-invoke config at all?
-- One row per live function (staging.stg_functions is_current) that has no live config for any
-- version or alias. Such a function runs async invocations on the platform defaults: no
-- destination is told about successes or failures. configs_before counts the configs it had in
-- earlier loads (0 = never had one); last_config_deleted_at is when the last of them went away.
-- Portable SQL (DuckDB and PostgreSQL).
with live_functions as (
    select * from staging.stg_functions
    where is_current
),

config_history as (
    select
        function_urn,
        count(distinct func_urn) as configs_before,
        max(valid_to) as last_config_deleted_at,
        bool_or(is_current) as has_live_config
    from staging.stg_async_invoke_configs
    group by function_urn
)

select
    f.function_urn,
    f.function_name,
    f.package,
    f.region,
    f.project_id,
    f.runtime,
    f.last_modified,
    coalesce(h.configs_before, 0) as configs_before,
    h.last_config_deleted_at
from live_functions as f
left join config_history as h on h.function_urn = f.function_urn
where not coalesce(h.has_live_config, false)
