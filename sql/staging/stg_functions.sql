-- Staging: the loaded functions (ListFunctions), one row per version of a function;
-- is_current marks the live version. Should two live rows ever share a URN (see
-- stg_async_invoke_configs), the newest is current and the others are is_shadowed.
with versions as (
    select
        *,
        case when _dlt_valid_to is null then row_number() over (
            partition by func_urn, _dlt_valid_to is null
            order by _dlt_valid_from desc, region, project_id
        ) end as live_rank
    from functiongraph.functions
)

select
    func_urn as function_urn,
    func_name as function_name,
    package,
    region,
    project_id,
    namespace,
    runtime,
    handler,
    memory_size,
    timeout,
    code_type,
    version,
    description,
    enterprise_project_id,
    last_modified,
    last_modified_raw,
    environment_variable_names,
    value_error,
    duplicate_note,
    extra_fields,
    _dlt_valid_from as valid_from,
    _dlt_valid_to as valid_to,
    coalesce(live_rank = 1, false) as is_current,
    coalesce(live_rank > 1, false) as is_shadowed
from versions
