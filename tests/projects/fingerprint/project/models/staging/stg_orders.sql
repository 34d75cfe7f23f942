select
    id,
    customer_id,
    status,
    {{ fp_to_dollars('amount_cents') }} as amount
from {{ ref('raw_orders') }}
