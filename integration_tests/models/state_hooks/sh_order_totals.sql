{{ config(materialized='table') }}

-- Reads a var: a changed value changes the data, so the model must be rebuilt.
select
    customer_id,
    count(*) as order_count,
    sum(amount) * {{ var('sh_amount_factor', 1) }} as total_amount
from {{ ref('sh_stg_orders') }}
group by customer_id
