{#- The claims table of a state table: `<table>__claims` beside it. Overlapping `orc`
    runs on one state keep there which run is building which node (their claims, one
    JSON board in the table's one row), so that each node is built once. -#}

{% macro claims_table_relation(state_table=none) -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {{ return(relation.incorporate(path={'identifier': relation.identifier ~ '__claims'})) }}
{%- endmacro %}
