{{ config(materialized='view') }}

select
    id as order_id,
    customer_id,
    amount
from {{ source('sh_raw', 'orders') }}
