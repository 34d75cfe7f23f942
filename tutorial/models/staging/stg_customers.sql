select
    id as customer_id,
    first_name,
    last_name,
    email,
    _loaded_at
from {{ source('raw', 'customers') }}
