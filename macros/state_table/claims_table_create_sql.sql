{#- `create table if not exists ... as select`: the claims table and its one row, an empty
    board, made in one statement, so that no reader ever finds the table without its row
    and two runs creating it at once never make two rows. -#}

{% macro claims_table_create_sql(relation) -%}
  {{ return(adapter.dispatch('claims_table_create_sql', 'orchestra_dbt')(relation)) }}
{%- endmacro %}

{% macro default__claims_table_create_sql(relation) -%}
  {%- set sql -%}
create table if not exists {{ relation }} as
select cast('' as {{ orchestra_dbt.state_text_type() }}) as board
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}
