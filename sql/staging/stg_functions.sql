-- Staging: the loaded functions (ListFunctions), one row per version of a function;
-- is_current marks the live version.
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
    extra_fields,
    _dlt_valid_from as valid_from,
    _dlt_valid_to as valid_to,
    _dlt_valid_to is null as is_current
from functiongraph.functions
