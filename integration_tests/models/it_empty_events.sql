{{ config(materialized='table') }}

-- Same shape as the it_events seed, no rows: max(_loaded_at) is null.
select
    cast(null as integer) as id,
    cast(null as varchar(8)) as region,
    cast(null as timestamp) as _loaded_at
where 1 = 0
