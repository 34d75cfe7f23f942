{#- Private: reading one value out of a query's result. -#}

{#- First column of the first row of a `load_result(...)` value or of an agate
    table (what `run_query` returns); none when there is no such cell. -#}
{% macro _first_cell(result) -%}
  {%- if result is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set table = result.table if result.table is defined else result -%}
  {%- if table is none or table.rows is not defined or (table.rows | length) == 0 -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set row = table.rows[0] -%}
  {%- if (row | length) == 0 -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(row[0]) }}
{%- endmacro %}


{#- Value of the named column (case-insensitive) in the first row of an agate
    table; none when the table is empty or has no such column. -#}
{% macro _column_value(table, column_name) -%}
  {%- if table is none or table.rows is not defined or (table.rows | length) == 0 -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set names = table.column_names | map('lower') | list -%}
  {%- if (column_name | lower) not in names -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(table.rows[0][names.index(column_name | lower)]) }}
{%- endmacro %}
