{#- Replace the claims board (the one row of the claims table) with `board`, JSON text. -#}

{% macro claims_board_update_sql(relation, board) -%}
  {{ return(adapter.dispatch('claims_board_update_sql', 'orchestra_dbt')(relation, board)) }}
{%- endmacro %}

{% macro default__claims_board_update_sql(relation, board) -%}
  {{ return('update ' ~ relation ~ ' set board = ' ~ orchestra_dbt.state_literal(board)) }}
{%- endmacro %}
