-- Question: how much changes each day, and where?
-- One row per (day, region, project_id) with at least one change: counts of configs created,
-- updated and deleted, from reporting.async_invoke_config_changes. `day` is the UTC date of
-- detected_at, the start of the load that saw the change (not when it happened in the cloud:
-- a change made days before a run is counted on the day of that run).
-- Portable SQL (DuckDB and PostgreSQL).
select
    cast(timezone('UTC', detected_at) as date) as day,
    region,
    project_id,
    count(*) filter (where change_type = 'created') as created,
    count(*) filter (where change_type = 'updated') as updated,
    count(*) filter (where change_type = 'deleted') as deleted,
    count(*) as changes
from reporting.async_invoke_config_changes
group by 1, 2, 3
