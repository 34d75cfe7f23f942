{#- Converts an integer amount in cents to a decimal amount in dollars. -#}
{% macro cents_to_dollars(column, scale=2) -%}
    cast({{ column }} / 100.0 as decimal(16, {{ scale }}))
{%- endmacro %}
