-- An incremental copy of the orders: the first build loads everything, later
-- builds only process rows loaded since the last run and merge them on order_id.
{{
    config(
        materialized='incremental',
        unique_key='order_id',
        incremental_strategy='delete+insert',
    )
}}

select
    order_id,
    customer_id,
    order_date,
    status,
    _loaded_at
from {{ ref('stg_orders') }}

{% if is_incremental() %}
-- Only rows loaded after the newest row already in this table. A reloaded
-- order replaces its old version, thanks to unique_key.
where _loaded_at > (select max(_loaded_at) from {{ this }})
{% endif %}
