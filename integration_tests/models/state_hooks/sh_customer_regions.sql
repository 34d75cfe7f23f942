{{ config(materialized='table') }}

select
    c.customer_id,
    c.name,
    {{ sh_region_label('r.region_name', 'r.region_code') }} as region_label
from {{ ref('sh_stg_customers') }} as c
left join {{ ref('sh_regions') }} as r
    on c.region_code = r.region_code
