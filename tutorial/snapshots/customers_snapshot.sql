{#- Keeps the history of customer details: a new version of a row is recorded
    whenever one of the selected columns changes (strategy "check"). -#}
{% snapshot customers_snapshot %}

{{
    config(
        target_schema=target.schema,
        unique_key='customer_id',
        strategy='check',
        check_cols='all',
    )
}}

select
    id as customer_id,
    first_name,
    last_name,
    email
from {{ source('raw', 'customers') }}

{% endsnapshot %}
