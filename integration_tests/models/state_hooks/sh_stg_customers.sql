{{ config(materialized='table') }}

select
    id as customer_id,
    name,
    region_code
from {{ source('sh_raw', 'customers') }}
