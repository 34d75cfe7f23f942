{#- The statement that starts a transaction where dbt does not start one itself, or none.
    dbt-postgres never sends `begin` (psycopg2 opens a transaction implicitly) and ends a
    transaction with a plain `commit` statement, after which psycopg2 believes its
    transaction still open and opens no other: every later statement of the connection
    then commits on its own. Other adapters (DuckDB) begin with dbt's auto_begin. -#}

{% macro state_transaction_begin_sql() -%}
  {{ return(adapter.dispatch('state_transaction_begin_sql', 'orchestra_dbt')()) }}
{%- endmacro %}

{% macro default__state_transaction_begin_sql() -%}
  {{ return(none) }}
{%- endmacro %}

{% macro postgres__state_transaction_begin_sql() -%}
  {{ return('begin') }}
{%- endmacro %}
