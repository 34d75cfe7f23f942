-- Orders worth at least the `large_order_threshold` var (dollars).
select *
from {{ ref('fct_orders') }}
where amount >= {{ var('large_order_threshold', 50) }}
