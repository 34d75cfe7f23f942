{% snapshot orders_snapshot %}
{{ config(unique_key='id', strategy='check', check_cols=['status'], target_schema='snapshots') }}
select * from {{ ref('stg_orders') }}
{% endsnapshot %}
