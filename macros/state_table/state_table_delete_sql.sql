{#- Delete the rows of `keys` (all rows of the kind when keys is none) written for a time
    at or before `before`: a newer row written meanwhile by another run is kept. -#}

{% macro state_table_delete_sql(relation, kind, keys, before) -%}
  {{ return(adapter.dispatch('state_table_delete_sql', 'orchestra_dbt')(relation, kind, keys, before)) }}
{%- endmacro %}

{% macro default__state_table_delete_sql(relation, kind, keys, before) -%}
  {%- set sql -%}
delete from {{ relation }}
where kind = {{ orchestra_dbt.state_literal(kind) }}
{%- if keys is not none %}
  and state_key in ({{ orchestra_dbt._state_literals(keys) }})
{%- endif %}
  and last_updated <= {{ orchestra_dbt.state_literal(before) }}
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}
