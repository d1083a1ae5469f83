-- Question: which functions send async results to each other in a loop?
-- Huawei warns against functions naming each other as async destinations: an event can then
-- bounce between them until retries or the event age run out. Edges come from live configs: the
-- config's function -> the unqualified URN of a FunctionGraph target, on either side, any version
-- or alias.
-- kind = 'cycle': one row per simple loop of up to 10 functions (A -> B -> A, A -> B -> C -> A, a
-- function sending to itself), written once, from its smallest function URN. cycle_length counts
-- its functions; path spells it with full URNs and short_path with package/name, back to the
-- first function; functions lists them once each; via_configs lists the configs (qualified URN
-- and side) that make its edges.
-- kind = 'longer_loops': listing every loop is exponential on densely connected functions, so
-- loops longer than 10 functions are not spelled out. Instead, one row per group of functions
-- that reach each other and have such loops: functions lists the whole group, via_configs the
-- configs whose edges are on no listed cycle; cycle_length, path and short_path are NULL.
-- Function URNs are compared and sorted by code point (collate "C"), so that "smallest" and
-- every sorted list mean the same on any database, whatever its default collation.
with recursive edge_sides as (
    select
        function_urn as source,
        target_function_urn as target,
        func_urn || ' (' || side || ')' as via
    from staging.stg_async_invoke_config_sides
    where is_current and target_function_urn is not null
),

edges as (
    select distinct source, target from edge_sides
),

-- Which function reaches which (UNION drops repeats, so this ends even on loops).
reaches (source, node) as (
    select source, target from edges
    union
    select reaches.source, edges.target
    from reaches
    join edges on edges.source = reaches.node
),

-- An edge is on a loop exactly when its target leads back to its source; only those are walked.
loop_edges as (
    select edges.source, edges.target
    from edges
    join reaches on reaches.source = edges.target and reaches.node = edges.source
),

-- Walks start on each loop edge and only visit functions with a larger URN than the first, so a
-- cycle is found once: from its smallest function, in its own direction. A walk takes at most 10
-- functions, which bounds the search. path lists the functions so far (with the first again at
-- the end once the walk is back).
walks (start, node, path) as (
    select source, target, array[source, target]
    from loop_edges
    where target >= source collate "C"
    union all
    select walks.start, loop_edges.target, array_append(walks.path, loop_edges.target)
    from walks
    join loop_edges on loop_edges.source = walks.node
    where walks.node <> walks.start
        and (loop_edges.target = walks.start
            or (loop_edges.target > walks.start collate "C"
                and array_position(walks.path, loop_edges.target) is null
                and array_length(walks.path, 1) < 10))
),

cycles as (
    select path, array_length(path, 1) - 1 as cycle_length
    from walks
    where node = start
),

-- Each function of each cycle with its place in the loop (the first one at 1 and at the end).
cycle_nodes as (
    select cycles.path, step.i, cycles.path[step.i] as function_urn
    from cycles, generate_series(1, cycles.cycle_length + 1) as step (i)
),

cycle_steps as (
    select distinct here.path, here.function_urn as source, next.function_urn as target
    from cycle_nodes as here
    join cycle_nodes as next on next.path = here.path and next.i = here.i + 1
),

short_paths as (
    select
        path,
        string_agg(
            split_part(function_urn, ':', 6) || '/' || split_part(function_urn, ':', 7),
            ' → ' order by i
        ) as short_path
    from cycle_nodes
    group by path
),

cycle_vias as (
    select distinct steps.path, sides.via
    from cycle_steps as steps
    join edge_sides as sides on sides.source = steps.source and sides.target = steps.target
),

cycle_configs as (
    select path, array_agg(via order by via collate "C") as via_configs
    from cycle_vias
    group by path
),

-- Functions that reach each other form a group, named by its smallest function.
loop_groups as (
    select there.source as function_urn, min(there.node collate "C") as group_urn
    from reaches as there
    join reaches as back on back.source = there.node and back.node = there.source
    group by there.source
),

unlisted_edges as (
    select source, target from loop_edges
    except
    select source, target from cycle_steps
),

longer_loop_vias as (
    select distinct groups.group_urn, sides.via
    from unlisted_edges as unlisted
    join edge_sides as sides on sides.source = unlisted.source and sides.target = unlisted.target
    join loop_groups as groups on groups.function_urn = unlisted.source
),

longer_loops as (
    select group_urn, array_agg(via order by via collate "C") as via_configs
    from longer_loop_vias
    group by group_urn
),

group_functions as (
    select group_urn, array_agg(function_urn order by function_urn collate "C") as functions
    from loop_groups
    group by group_urn
)

select
    'cycle' as kind,
    cast(c.cycle_length as bigint) as cycle_length,  -- array_length: integer on PostgreSQL
    array_to_string(c.path, ' → ') as path,
    sp.short_path,
    c.path[1:c.cycle_length] as functions,
    cc.via_configs
from cycles as c
join short_paths as sp on sp.path = c.path
join cycle_configs as cc on cc.path = c.path

union all

select
    'longer_loops' as kind,
    null as cycle_length,
    null as path,
    null as short_path,
    g.functions,
    l.via_configs
from longer_loops as l
join group_functions as g on g.group_urn = l.group_urn
