select count(*) as n from {{ ref('stg_customers') }}
