{#- Helpers of clone_relation (macros/clone/clone_relation.sql). -#}

{#- `create or replace table` replaces a table only: anything else of that name (a view
    the model was before) is dropped first. -#}
{% macro _drop_unless_table(relation) -%}
  {%- set existing = adapter.get_relation(
        database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {%- if existing is not none and not existing.is_table -%}
    {%- call statement('orchestra_dbt_clone_drop') -%}
      {{ get_drop_sql(existing) }}
    {%- endcall -%}
  {%- endif -%}
{%- endmacro %}
