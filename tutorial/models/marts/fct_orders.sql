-- One row per order: the payment total from int_order_payments, a split of
-- that total by payment method, and a readable status label from the seed.
with orders as (
    select * from {{ ref('int_order_payments') }}
),

statuses as (
    select * from {{ ref('order_statuses') }}
),

payments_by_method as (
    select
        order_id,
        sum(case when payment_method = 'credit_card' then amount else 0 end) as credit_card_amount,
        sum(case when payment_method = 'coupon' then amount else 0 end) as coupon_amount,
        sum(case when payment_method = 'bank_transfer' then amount else 0 end) as bank_transfer_amount,
        sum(case when payment_method = 'gift_card' then amount else 0 end) as gift_card_amount
    from {{ ref('stg_payments') }}
    group by order_id
)

select
    orders.order_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    statuses.status_label,
    coalesce(payments_by_method.credit_card_amount, 0) as credit_card_amount,
    coalesce(payments_by_method.coupon_amount, 0) as coupon_amount,
    coalesce(payments_by_method.bank_transfer_amount, 0) as bank_transfer_amount,
    coalesce(payments_by_method.gift_card_amount, 0) as gift_card_amount,
    orders.amount
from orders
left join statuses
    on orders.status = statuses.status
left join payments_by_method
    on orders.order_id = payments_by_method.order_id
