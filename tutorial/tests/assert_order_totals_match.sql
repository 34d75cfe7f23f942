-- Every order must appear in both int_order_payments and fct_orders, and the
-- per-method amounts in fct_orders must add up to the order total. Returns the
-- orders that break this (none when the data is consistent). A payment method
-- that fct_orders does not know about would show up here.
with totals as (
    select order_id, amount
    from {{ ref('int_order_payments') }}
),

split as (
    select
        order_id,
        credit_card_amount + coupon_amount + bank_transfer_amount + gift_card_amount
            as amount
    from {{ ref('fct_orders') }}
)

select
    coalesce(totals.order_id, split.order_id) as order_id,
    totals.amount as total_amount,
    split.amount as split_amount
from totals
full outer join split
    on totals.order_id = split.order_id
where totals.order_id is null
    or split.order_id is null
    or totals.amount <> split.amount
