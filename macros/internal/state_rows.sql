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
  {{ return(orchestra_dbt._state_time(modules.datetime.datetime.utcnow())) }}
{%- endmacro %}

{#- A datetime from dbt (naive values are UTC) as UTC text with a four-digit year, the one
    time format of the package. Fixed width by default, `YYYY-MM-DDTHH:MM:SS.ffffffZ`, so
    that text order is time order in every year (the state table's `last_updated`; orc's
    fixed_time writes the same text); with `fixed` false, `.ffffff` only when the
    microseconds are not zero (the JSON's times, as orc's format_timestamp writes them). -#}
{% macro _state_time(value, fixed=true) -%}
  {%- if value.tzinfo is not none and value.utcoffset() is not none -%}
    {%- set value = value.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
  {%- endif -%}
  {%- set text = '%04d-%02d-%02dT%02d:%02d:%02d' | format(value.year, value.month, value.day, value.hour, value.minute, value.second) -%}
  {%- if fixed or value.microsecond -%}
    {%- set text = text ~ ('.%06d' | format(value.microsecond)) -%}
  {%- endif -%}
  {{ return(text ~ 'Z') }}
{%- endmacro %}


{#- The key of a node's full record in this target, as orc keys it (core.keys.KeyScope.key):
    `<unique_id>@<relation>`, or `@<the target's default location>` for a node without a
    relation; with an integration account, dbt-orchestra's `<account>.<relation>`. -#}
{% macro _state_key(node, account) -%}
  {%- if account -%}
    {{ return(account ~ '.' ~ (node.relation_name or node.unique_id)) }}
  {%- endif -%}
  {%- set where = node.relation_name or orchestra_dbt._state_location() -%}
  {{ return(node.unique_id ~ '@' ~ where if where else node.unique_id) }}
{%- endmacro %}

{#- Every key a record of the node is written under: its key, then its mirror's (the plain
    unique id), as KeyScope.keys. -#}
{% macro _state_keys(node, account) -%}
  {%- set key = orchestra_dbt._state_key(node, account) -%}
  {{ return([key] if account or key == node.unique_id else [key, node.unique_id]) }}
{%- endmacro %}

{#- The target's default location, `"database"."schema"` as the adapter quotes relations. -#}
{% macro _state_location() -%}
  {{ return(api.Relation.create(database=target.database, schema=target.schema).render()) }}
{%- endmacro %}

{#- The state rows [key, 'node', last_updated, item JSON] of one node's item, as
    KeyScope.entries writes them: the item stamped with this target under the node's key,
    and its slim mirror (dbt-orchestra's fields, relation and target) under the plain key. -#}
{% macro _state_entries(node, account, item) -%}
  {%- set full = {} -%}
  {%- do full.update(item) -%}
  {%- do full.update({'target': target.name}) -%}
  {%- set mirror = {
        'last_updated': full.last_updated,
        'checksum': full.checksum,
        'sources': full.sources or {},
        'relation': full.relation,
        'target': full.target} -%}
  {%- set rows = [] -%}
  {%- for key in orchestra_dbt._state_keys(node, account) -%}
    {%- do rows.append([key, 'node', full.last_updated, tojson(mirror if loop.index > 1 else full, sort_keys=true)]) -%}
  {%- endfor -%}
  {{ return(rows) }}
{%- endmacro %}

{#- The account that _state_key prefixes to keys; none outside Orchestra. -#}
{% macro _state_account() -%}
  {{ return(var('orchestra_integration_account_id', none)) }}
{%- endmacro %}
