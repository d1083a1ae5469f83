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
-- dialect: duckdb
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
-- functions, which bounds the search.
walks (start, node, path) as (
    select source, target, [source, target]
    from loop_edges
    where target >= source
    union all
    select walks.start, loop_edges.target, list_append(walks.path, loop_edges.target)
    from walks
    join loop_edges on loop_edges.source = walks.node
    where walks.node <> walks.start
        and (loop_edges.target = walks.start
            or (loop_edges.target > walks.start
                and not list_contains(walks.path, loop_edges.target)
                and len(walks.path) < 10))
),

cycles as (
    select path from walks where node = start
),

cycle_steps as (
    select distinct path, path[i] as source, path[i + 1] as target
    from (select path, unnest(range(1, len(path))) as i from cycles)
),

cycle_configs as (
    select steps.path, list(distinct sides.via order by sides.via) as via_configs
    from cycle_steps as steps
    join edge_sides as sides on sides.source = steps.source and sides.target = steps.target
    group by steps.path
),

-- Functions that reach each other form a group, named by its smallest function.
loop_groups as (
    select there.source as function_urn, min(there.node) as group_urn
    from reaches as there
    join reaches as back on back.source = there.node and back.node = there.source
    group by there.source
),

unlisted_edges as (
    select source, target from loop_edges
    except
    select source, target from cycle_steps
),

longer_loops as (
    select
        groups.group_urn,
        list(distinct sides.via order by sides.via) as via_configs
    from unlisted_edges as unlisted
    join edge_sides as sides on sides.source = unlisted.source and sides.target = unlisted.target
    join loop_groups as groups on groups.function_urn = unlisted.source
    group by groups.group_urn
)

select
    'cycle' as kind,
    len(c.path) - 1 as cycle_length,
    array_to_string(c.path, ' → ') as path,
    array_to_string(
        list_transform(c.path, urn -> split_part(urn, ':', 6) || '/' || split_part(urn, ':', 7)),
        ' → '
    ) as short_path,
    c.path[1:len(c.path) - 1] as functions,
    cc.via_configs
from cycles as c
join cycle_configs as cc on cc.path = c.path

union all

select
    'longer_loops' as kind,
    null as cycle_length,
    null as path,
    null as short_path,
    (
        select list(g.function_urn order by g.function_urn)
        from loop_groups as g
        where g.group_urn = l.group_urn
    ) as functions,
    l.via_configs
from longer_loops as l
