{% macro fp_region_filter() -%}
    '{{ var("fp_region") }}' = 'eu'
{%- endmacro %}
