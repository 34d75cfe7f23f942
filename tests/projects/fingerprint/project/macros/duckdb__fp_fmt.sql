{% macro duckdb__fp_fmt(value) -%}
    upper({{ value }})
{%- endmacro %}
