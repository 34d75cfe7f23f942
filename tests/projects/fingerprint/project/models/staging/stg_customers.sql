-- Customers, one row each.
select
    id,
    name  -- the display name
from {{ ref('raw_customers') }}
