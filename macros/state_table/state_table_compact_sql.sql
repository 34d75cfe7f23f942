{#- Delete every node row (of `keys`, when given) that a newer row of the same key
    supersedes. `last_updated` has a fixed width, so `last_updated || state_key` names one
    row version. With `trusted_until` (a time in that same form), rows dated after it are
    from the future (a clock far ahead, an edited row): they supersede nothing, and are
    deleted as soon as their key has a row dated up to then, so a trusted row always wins. -#}

{% macro state_table_compact_sql(relation, keys=none, trusted_until=none) -%}
  {{ return(adapter.dispatch('state_table_compact_sql', 'orchestra_dbt')(relation, keys, trusted_until)) }}
{%- endmacro %}

{% macro default__state_table_compact_sql(relation, keys, trusted_until) -%}
  {%- set only_keys -%}
    {%- if keys is not none %} and state_key in ({{ orchestra_dbt._state_literals(keys) }}){% endif -%}
  {%- endset -%}
  {%- set sql -%}
delete from {{ relation }}
where kind = 'node'{{ only_keys }}
  and last_updated || state_key not in (
  {%- if trusted_until is none %}
    select max(last_updated) || state_key
  {%- else %}
    select coalesce(
      max(case when last_updated <= {{ orchestra_dbt.state_literal(trusted_until) }} then last_updated end),
      max(last_updated)
    ) || state_key
  {%- endif %}
    from {{ relation }}
    where kind = 'node'{{ only_keys }}
    group by state_key
  )
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}
