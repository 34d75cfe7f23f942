{#- Every row of a kind (of the given keys, when keys is not none), oldest first per key. -#}

{% macro state_table_select_sql(relation, kind, keys=none) -%}
  {{ return(adapter.dispatch('state_table_select_sql', 'orchestra_dbt')(relation, kind, keys)) }}
{%- endmacro %}

{% macro default__state_table_select_sql(relation, kind, keys) -%}
  {%- set sql -%}
select state_key, last_updated, item
from {{ relation }}
where kind = {{ orchestra_dbt.state_literal(kind) }}
{%- if keys is not none %}
  and state_key in ({{ orchestra_dbt._state_literals(keys) }})
{%- endif %}
order by state_key, last_updated, item
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}
