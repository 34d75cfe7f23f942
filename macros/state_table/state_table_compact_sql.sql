{#- Delete every node row (of `keys`, when given) that a newer row of the same key
    supersedes. `last_updated` has a fixed width, so `last_updated || state_key` names one
    row version. -#}

{% macro state_table_compact_sql(relation, keys=none) -%}
  {{ return(adapter.dispatch('state_table_compact_sql', 'orchestra_dbt')(relation, keys)) }}
{%- endmacro %}

{% macro default__state_table_compact_sql(relation, keys) -%}
  {%- set only_keys -%}
    {%- if keys is not none %} and state_key in ({{ orchestra_dbt._state_literals(keys) }}){% endif -%}
  {%- endset -%}
  {%- set sql -%}
delete from {{ relation }}
where kind = 'node'{{ only_keys }}
  and last_updated || state_key not in (
    select max(last_updated) || state_key
    from {{ relation }}
    where kind = 'node'{{ only_keys }}
    group by state_key
  )
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}
