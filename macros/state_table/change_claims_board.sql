{#- Used by `orc` (through execute_macro), for overlapping runs on one warehouse state.
    Create the claims table on first use; then, in one transaction, read its board (locked
    on PostgreSQL), give the rows read to `change`, write the board text it returns unless
    it returns none, and commit. `change` is orc's Python function: it checks the rows and
    applies the claims rules of core/claims.py. -#}

{% macro change_claims_board(state_table=none, change=none) -%}
  {%- set relation = orchestra_dbt.claims_table_relation(state_table) -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {%- do orchestra_dbt.ensure_state_table(relation, orchestra_dbt.claims_table_create_sql(relation)) -%}
  {%- set begin = orchestra_dbt.state_transaction_begin_sql() -%}
  {%- if begin -%}
    {%- do orchestra_dbt._state_run(begin) -%}
  {%- endif -%}
  {%- set table = orchestra_dbt._state_run(orchestra_dbt.claims_board_select_sql(relation), fetch=true) -%}
  {%- set boards = [] -%}
  {%- for row in table.rows -%}
    {%- do boards.append(row[0]) -%}
  {%- endfor -%}
  {%- set board = change(boards) -%}
  {%- if board is not none -%}
    {%- do orchestra_dbt._state_run(orchestra_dbt.claims_board_update_sql(relation, board)) -%}
  {%- endif -%}
  {%- do adapter.commit() -%}
{%- endmacro %}
