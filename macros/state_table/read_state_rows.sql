{#- Used by the hooks and by `orc` (through execute_macro). The rows of a kind as
    [state_key, last_updated, item] lists; none when the table does not exist (reading
    never creates it). With check_exists false the caller has checked that the table
    exists (orc does, bypassing dbt's relation cache). -#}

{% macro read_state_rows(state_table=none, kind='node', keys=none, check_exists=true) -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- if check_exists and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if keys is not none and keys | length == 0 -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set table = orchestra_dbt._state_run(orchestra_dbt.state_table_select_sql(relation, kind, keys), fetch=true) -%}
  {%- set rows = [] -%}
  {%- for row in table.rows -%}
    {%- do rows.append([row[0], row[1], row[2]]) -%}
  {%- endfor -%}
  {{ return(rows) }}
{%- endmacro %}
