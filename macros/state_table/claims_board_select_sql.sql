{#- Read the claims board (every row of the claims table: there is one) at the start of
    the transaction that writes it. PostgreSQL locks the row until the commit, so a
    concurrent run waits and then reads what this one wrote; DuckDB has no row locks, and
    makes the later of two writers of the row fail instead (orc tries it again). -#}

{% macro claims_board_select_sql(relation) -%}
  {{ return(adapter.dispatch('claims_board_select_sql', 'orchestra_dbt')(relation)) }}
{%- endmacro %}

{% macro default__claims_board_select_sql(relation) -%}
  {{ return('select board from ' ~ relation) }}
{%- endmacro %}

{% macro postgres__claims_board_select_sql(relation) -%}
  {{ return(orchestra_dbt.default__claims_board_select_sql(relation) ~ ' for update') }}
{%- endmacro %}
