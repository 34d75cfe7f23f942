{# Called only under `if execute`: invisible to dbt's parse-time dependencies. #}
{% macro fp_exec_only_suffix() -%}
    'suffix'
{%- endmacro %}
