-- Question: which functions send async results to each other in a loop?
-- Huawei warns against functions naming each other as async destinations: an event can then
-- bounce between them until retries or the event age run out. Edges come from live configs: the
-- config's function -> the unqualified URN of a FunctionGraph target, on either side, any version
-- or alias. One row per simple cycle (A -> B -> A, A -> B -> C -> A, a function sending to
-- itself), written once from its smallest function URN. cycle_length counts the functions in it;
-- path spells the loop with full URNs and short_path with package/name, closing on the first
-- function; via_configs lists the configs (qualified URN, side) that make its edges.
with recursive configs as (
    select * from reporting.current_async_invoke_configs
),

edge_sides as (
    select
        function_urn as source,
        regexp_extract(
            on_success_target, '^(urn:fss:[^:]+:[^:]+:function:[^:]+:[^:]+)(:[^:]+)?$', 1
        ) as target,
        func_urn,
        'on_success' as side
    from configs
    where on_success_destination = 'FunctionGraph'
    union all
    select
        function_urn as source,
        regexp_extract(
            on_failure_target, '^(urn:fss:[^:]+:[^:]+:function:[^:]+:[^:]+)(:[^:]+)?$', 1
        ) as target,
        func_urn,
        'on_failure' as side
    from configs
    where on_failure_destination = 'FunctionGraph'
),

edges as (
    select distinct source, target from edge_sides
    where target <> ''
),

-- Walks start on each edge leaving a function and only visit functions with a larger URN, so a
-- cycle is found exactly once: from its smallest function, in its own direction.
walks (start, node, path) as (
    select source, target, [source, target]
    from edges
    where target >= source
    union all
    select walks.start, edges.target, list_append(walks.path, edges.target)
    from walks
    join edges on edges.source = walks.node
    where walks.node <> walks.start
        and (edges.target = walks.start
            or (edges.target > walks.start and not list_contains(walks.path, edges.target)))
),

cycles as (
    select path from walks where node = start
),

steps as (
    select path, unnest(range(1, len(path))) as i from cycles
),

cycle_edges as (
    select distinct
        steps.path,
        s.func_urn || ' (' || s.side || ')' as via
    from steps
    join edge_sides as s on s.source = steps.path[steps.i] and s.target = steps.path[steps.i + 1]
),

cycle_configs as (
    select path, list(via order by via) as via_configs
    from cycle_edges
    group by path
)

select
    len(c.path) - 1 as cycle_length,
    array_to_string(c.path, ' → ') as path,
    array_to_string(
        list_transform(c.path, urn -> split_part(urn, ':', 6) || '/' || split_part(urn, ':', 7)),
        ' → '
    ) as short_path,
    c.path[1:len(c.path) - 1] as functions,
    e.via_configs
from cycles as c
join cycle_configs as e on e.path = c.path
