{% macro fp_pkg_double(value) -%}
    ({{ value }} * 2)
{%- endmacro %}
