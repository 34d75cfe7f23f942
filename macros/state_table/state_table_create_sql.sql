{#- `create table if not exists` for the state table: four text columns. -#}

{% macro state_table_create_sql(relation) -%}
  {{ return(adapter.dispatch('state_table_create_sql', 'orchestra_dbt')(relation)) }}
{%- endmacro %}

{% macro default__state_table_create_sql(relation) -%}
  {%- set text_type = orchestra_dbt.state_text_type() -%}
  {%- set sql -%}
create table if not exists {{ relation }} (
    state_key {{ text_type }} not null,
    kind {{ text_type }} not null,
    last_updated {{ text_type }} not null,
    item {{ text_type }} not null
)
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- Spark needs a Delta table to delete rows (Databricks makes Delta tables by default). -#}
{% macro spark__state_table_create_sql(relation) -%}
  {{ return(orchestra_dbt.default__state_table_create_sql(relation) ~ '\nusing delta') }}
{%- endmacro %}
