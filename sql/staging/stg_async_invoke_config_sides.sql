-- Staging: one row per (config version, side): the success and failure destinations of every
-- config version, unpivoted once here so that no report writes the unpivot again. Targets are
-- parsed in Python when loading (the function URN, region and project of a FunctionGraph or SMN
-- target; whether the destination type is known), so no report parses URNs either.
-- is_configured: the side names a destination or a param (an empty side is all NULL).
select
    *,
    destination is not null or param is not null as is_configured
from (
    select
        func_urn, function_urn, function_name, package, qualifier, region, project_id,
        'on_success' as side,
        on_success_destination as destination,
        on_success_destination_known as destination_known,
        on_success_param as param,
        on_success_target as target,
        on_success_target_function_urn as target_function_urn,
        on_success_target_region as target_region,
        on_success_target_project_id as target_project_id,
        on_success_prefix as prefix,
        on_success_expires as expires,
        on_success_param_error as param_error,
        valid_from, valid_to, is_current
    from staging.stg_async_invoke_configs
    union all
    select
        func_urn, function_urn, function_name, package, qualifier, region, project_id,
        'on_failure' as side,
        on_failure_destination as destination,
        on_failure_destination_known as destination_known,
        on_failure_param as param,
        on_failure_target as target,
        on_failure_target_function_urn as target_function_urn,
        on_failure_target_region as target_region,
        on_failure_target_project_id as target_project_id,
        on_failure_prefix as prefix,
        on_failure_expires as expires,
        on_failure_param_error as param_error,
        valid_from, valid_to, is_current
    from staging.stg_async_invoke_configs
) as sides
