{% macro fp_fmt(value) -%}
    {{ return(adapter.dispatch('fp_fmt', 'fp_proj')(value)) }}
{%- endmacro %}

{% macro default__fp_fmt(value) -%}
    lower({{ value }})
{%- endmacro %}
