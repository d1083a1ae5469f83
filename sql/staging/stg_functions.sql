-- Staging: the loaded functions (ListFunctions), one row per function.
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
    extra_fields
from functiongraph.functions
