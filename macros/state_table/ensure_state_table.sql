{#- Create the state table's schema and the table when they do not exist (or, with
    `create_sql`, the table that statement makes: the claims table). -#}

{% macro ensure_state_table(relation, create_sql=none) -%}
  {%- do adapter.create_schema(api.Relation.create(database=relation.database, schema=relation.schema)) -%}
  {%- do orchestra_dbt._state_run(create_sql or orchestra_dbt.state_table_create_sql(relation)) -%}
  {#- dbt's relation cache may list the schema without the table just made. -#}
  {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
    {%- do adapter.cache_added(relation) -%}
  {%- endif -%}
{%- endmacro %}
