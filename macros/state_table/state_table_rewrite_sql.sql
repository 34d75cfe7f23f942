{#- Delete the node rows that rows about to be written write again: the same key with the
    same `last_updated` (`last_updated || state_key`, as in state_table_compact_sql), such
    as a record written at a checkpoint and again with its table's version added. Without
    it both rows would stay, as neither is newer than the other. -#}

{% macro state_table_rewrite_sql(relation, versions) -%}
  {{ return(adapter.dispatch('state_table_rewrite_sql', 'orchestra_dbt')(relation, versions)) }}
{%- endmacro %}

{% macro default__state_table_rewrite_sql(relation, versions) -%}
  {%- set sql -%}
delete from {{ relation }}
where kind = 'node'
  and last_updated || state_key in ({{ orchestra_dbt._state_literals(versions) }})
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}
