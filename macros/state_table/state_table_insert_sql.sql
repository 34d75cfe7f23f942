{#- One `insert ... values` of rows: a list of [state_key, kind, last_updated, item]
    (all text). -#}

{% macro state_table_insert_sql(relation, rows) -%}
  {{ return(adapter.dispatch('state_table_insert_sql', 'orchestra_dbt')(relation, rows)) }}
{%- endmacro %}

{% macro default__state_table_insert_sql(relation, rows) -%}
  {%- set values = [] -%}
  {%- for row in rows -%}
    {%- set cells = [] -%}
    {%- for cell in row -%}
      {%- do cells.append(orchestra_dbt.state_literal(cell)) -%}
    {%- endfor -%}
    {%- do values.append('(' ~ cells | join(', ') ~ ')') -%}
  {%- endfor -%}
  {{ return('insert into ' ~ relation ~ ' (state_key, kind, last_updated, item) values\n' ~ values | join(',\n')) }}
{%- endmacro %}
