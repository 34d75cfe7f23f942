{#- A SQL string literal. PostgreSQL, DuckDB and the SQL standard double the quote;
    Snowflake, BigQuery and Databricks also treat the backslash as an escape. Every
    backslash-escaping warehouse calls the one shared body, orchestra_dbt_backslash_literal
    (macros/internal/state_literals.sql). -#}

{% macro state_literal(text) -%}
  {{ return(adapter.dispatch('state_literal', 'orchestra_dbt')(text)) }}
{%- endmacro %}

{% macro default__state_literal(text) -%}
  {{ return("'" ~ (text | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{% macro snowflake__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro bigquery__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro databricks__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro spark__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro redshift__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}
