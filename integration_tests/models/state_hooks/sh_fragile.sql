{{ config(materialized='table') }}

-- Fails at run time (not at compile time) when the var sh_fail is true.
{% if var('sh_fail', false) %}
select cast('not a number' as integer) as region_count
{% else %}
select count(*) as region_count from {{ ref('sh_regions') }}
{% endif %}
