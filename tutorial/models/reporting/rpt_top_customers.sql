-- The five customers with the highest lifetime value: a view on a table, so on
-- PostgreSQL it is dropped whenever dim_customers is replaced and must be rebuilt.
select
    customer_id,
    first_name,
    last_name,
    lifetime_value
from {{ ref('dim_customers') }}
order by lifetime_value desc, customer_id
limit 5
