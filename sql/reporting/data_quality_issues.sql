-- Question: what did the API serve in the live configs (and functions) that breaks its own
-- documented contract: missing, malformed, out of its documented range, or duplicated?
-- One row per (func_urn, issue, field) of a live config; nothing is dropped or fixed upstream,
-- so this is where the mess shows. `field` names the column concerned, `reason` explains, and
-- raw_value is the value as served (or as stored, for numbers). House rules that are stricter
-- than the API (e.g. "no more than 3 retries") are policies, not data quality: they are not here.
-- Issues:
--   param_error            a destination param that could not be read (*_param_error)
--   unknown_destination    a destination type other than OBS, SMN, DIS, FunctionGraph (or none)
--   out_of_range           a value outside the range the API documents for what it serves:
--                          retries outside 0-8, event age outside 60-86400 seconds (ranges written
--                          once in staging.stg_async_invoke_configs: retry_attempts_range
--                          'outside', event_age_range other than 'strict'), OBS expires outside
--                          0-365 days
--   missing_value          retries or event age not served, or not an integer
--   unparseable_timestamp  a timestamp served but not readable (the parsed column is NULL)
--   urn_error              func_urn could not be read or belongs to another function
--   unknown_fields         served fields the API does not document, so no column (extra_fields)
--   value_error            a served value that could not be stored as read, e.g. a number beyond
--                          64 bits (stored NULL; the reason quotes the raw value)
--   duplicate_served       the API served this item more than once (duplicate_note says where);
--                          one copy was kept
--   duplicate_live_row     another live row has the same func_urn (is_shadowed): it is hidden
--                          from every report
-- A timestamp served without an offset is not an issue: the API documents last_modified that
-- way, and it is read in the configured zone (the raw text stays in *_raw).
-- Issues of a function (value_error, duplicate_served) have the function's URN as func_urn and
-- a field starting with `functions.`.
with configs as (
    select * from staging.stg_async_invoke_configs
    where is_current
),

sides as (
    select * from staging.stg_async_invoke_config_sides
    where is_current
),

timestamps as (
    select func_urn, 'created_time' as field, created_time_raw as raw, created_time as parsed
    from configs
    union all
    select func_urn, 'last_modified' as field, last_modified_raw as raw, last_modified as parsed
    from configs
),

issues as (
    select func_urn, 'param_error' as issue, side || '_param' as field,
        param_error as reason, param as raw_value
    from sides
    where param_error is not null

    union all
    select func_urn, 'unknown_destination', side || '_destination',
        case when destination is null then 'a param is set but no destination type'
            else 'unknown destination type ' || destination end,
        destination
    from sides
    where (destination is null and param is not null) or not destination_known

    union all
    select func_urn, 'out_of_range', side || '_expires',
        'OBS expires is outside 0-365 days', cast(expires as text)
    from sides
    where destination = 'OBS' and expires not between 0 and 365

    union all
    select func_urn, 'out_of_range', 'max_async_retry_attempts',
        'outside 0-8, the range the API documents for the retries it serves',
        cast(max_async_retry_attempts as text)
    from configs
    where retry_attempts_range = 'outside'

    union all
    select func_urn, 'out_of_range', 'max_async_event_age_in_seconds',
        case when event_age_range = 'wider'
            then 'outside 60-86400, the range the API documents for the event ages it serves '
                || '(only its request range 1-86400 allows it)'
            else 'outside 60-86400, the range the API documents for the event ages it serves'
        end,
        cast(max_async_event_age_in_seconds as text)
    from configs
    where event_age_range <> 'strict'

    union all
    select func_urn, 'missing_value', 'max_async_retry_attempts',
        'not served, or not an integer', null
    from configs
    where max_async_retry_attempts is null

    union all
    select func_urn, 'missing_value', 'max_async_event_age_in_seconds',
        'not served, or not an integer', null
    from configs
    where max_async_event_age_in_seconds is null

    union all
    select func_urn, 'unparseable_timestamp', field || '_raw',
        'served but not readable as a timestamp: ' || field || ' is NULL', raw
    from timestamps
    where raw is not null and parsed is null

    union all
    select func_urn, 'urn_error', 'func_urn', urn_error, func_urn
    from configs
    where urn_error is not null

    union all
    select func_urn, 'unknown_fields', 'extra_fields',
        coalesce(
            (
                -- the top-level names, sorted by code point (collate "C") on every database;
                -- text with a \u escape (a lone surrogate or a control character, which some
                -- databases refuse to read) or that is no object is not parsed
                select 'fields without a column: '
                    || string_agg(extra.key, ', ' order by extra.key collate "C")
                from json_each(
                    case when left(extra_fields, 1) = '{' and strpos(extra_fields, '\u') = 0
                        then cast(extra_fields as json) end
                ) as extra
            ),
            'fields without a column (names not readable here: see raw_value)'
        ),
        extra_fields
    from configs
    where extra_fields is not null

    union all
    select func_urn, 'value_error', 'value_error', value_error, null
    from configs
    where value_error is not null

    union all
    select func_urn, 'duplicate_served', 'func_urn', duplicate_note, func_urn
    from configs
    where duplicate_note is not null

    union all
    select func_urn, 'duplicate_live_row', 'func_urn',
        'another live row has this func_urn (under ' || function_urn || '); it is hidden',
        function_urn
    from staging.stg_async_invoke_configs
    where is_shadowed
),

functions as (
    select * from staging.stg_functions
    where is_current
),

function_issues as (
    select function_urn, 'value_error' as issue, 'functions.value_error' as field,
        value_error as reason, null as raw_value
    from functions
    where value_error is not null

    union all
    select function_urn, 'duplicate_served', 'functions.func_urn', duplicate_note, function_urn
    from functions
    where duplicate_note is not null
)

select
    i.func_urn,
    c.function_urn,
    c.region,
    c.project_id,
    i.issue,
    i.field,
    i.reason,
    i.raw_value
from issues as i
join configs as c on c.func_urn = i.func_urn

union all
select
    i.function_urn,
    f.function_urn,
    f.region,
    f.project_id,
    i.issue,
    i.field,
    i.reason,
    i.raw_value
from function_issues as i
join functions as f on f.function_urn = i.function_urn
