-- One row per order with its payments rolled up. Orders without payments
-- (not paid yet) are kept with an amount of 0.
with orders as (
    select * from {{ ref('stg_orders') }}
),

payments as (
    select
        order_id,
        count(*) as payment_count,
        sum(amount) as amount
    from {{ ref('stg_payments') }}
    group by order_id
)

select
    orders.order_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    coalesce(payments.payment_count, 0) as payment_count,
    coalesce(payments.amount, 0) as amount,
    orders._loaded_at
from orders
left join payments
    on orders.order_id = payments.order_id
