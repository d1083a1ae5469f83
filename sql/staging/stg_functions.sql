-- Staging: the loaded functions (ListFunctions), one row per version of a function;
-- is_current marks the live version. Should two live rows ever share a URN (see
-- stg_async_invoke_configs), the newest is current and the others are is_shadowed.
-- The ids and handlers the API serves as '' for "none" (xrole, app_xrole, func_vpc_id,
-- log_group_id, log_stream_id, initializer_handler, pre_stop_handler, code_url) are NULL here.
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
    project_name,
    domain_id,
    resource_id,
    type,
    runtime,
    handler,
    memory_size,
    cpu,
    gpu_memory,
    timeout,
    long_time,
    code_type,
    code_filename,
    code_url,
    code_size,
    digest,
    version,
    image_name,
    description,
    enterprise_project_id,
    xrole,
    app_xrole,
    func_vpc_id,
    log_group_id,
    log_stream_id,
    strategy_config_concurrency,
    strategy_config_concurrent_num,
    initializer_handler,
    initializer_timeout,
    pre_stop_handler,
    pre_stop_timeout,
    is_bridge_function,
    enable_dynamic_memory,
    is_stateful_function,
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
