{#- Private helpers of the state table's reading and writing, and of the hooks. -#}

{#- One statement inside the connection's transaction (run_query would run it outside, and
    the commit of write_state_rows would find no transaction to commit). -#}
{% macro _state_run(sql, fetch=false) -%}
  {%- call statement('orchestra_dbt_state', fetch_result=fetch, auto_begin=true) -%}
    {{ sql }}
  {%- endcall -%}
  {%- if fetch -%}
    {{ return(load_result('orchestra_dbt_state').table) }}
  {%- endif -%}
{%- endmacro %}


{#- Now, as the fixed-width UTC text of `last_updated`. -#}
{% macro _state_now() -%}
  {{ return(modules.datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ')) }}
{%- endmacro %}

{% macro _state_time(value) -%}
  {#- A datetime from dbt (naive values are UTC) as fixed-width UTC text. -#}
  {%- if value.tzinfo is not none and value.utcoffset() is not none -%}
    {%- set value = value.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
  {%- endif -%}
  {{ return(value.strftime('%Y-%m-%dT%H:%M:%S.%fZ')) }}
{%- endmacro %}


{#- dbt-orchestra's key rule, as orc applies it (its `state_key`). -#}
{% macro _state_key(node, account) -%}
  {%- if account -%}
    {{ return(account ~ '.' ~ (node.relation_name or node.unique_id)) }}
  {%- endif -%}
  {{ return(node.unique_id) }}
{%- endmacro %}

{#- The account that _state_key prefixes to keys; none outside Orchestra. -#}
{% macro _state_account() -%}
  {{ return(var('orchestra_integration_account_id', none)) }}
{%- endmacro %}
