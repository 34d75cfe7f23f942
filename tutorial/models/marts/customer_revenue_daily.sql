-- Revenue per customer per day. Its yml gives it a `build_after` freshness
-- policy (4 hours, updates_on: all), read by tools that schedule builds.
select
    customer_id,
    order_date,
    count(*) as number_of_orders,
    sum(amount) as revenue
from {{ ref('fct_orders') }}
group by customer_id, order_date
