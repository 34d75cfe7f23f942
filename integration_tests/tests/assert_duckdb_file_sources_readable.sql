{{ config(enabled=(target.type == 'duckdb')) }}
-- The file-backed sources themselves are valid for dbt-duckdb.
select 'orders_path' as source_table, count(*) as row_count
from {{ source('orc_it_files', 'orders_path') }}
having count(*) <> 2
union all
select 'orders_read_csv' as source_table, count(*) as row_count
from {{ source('orc_it_files', 'orders_read_csv') }}
having count(*) <> 2
union all
select 'orders' as source_table, count(*) as row_count
from {{ source('orc_it_files', 'orders') }}
having count(*) <> 2
