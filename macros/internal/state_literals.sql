{#- Private: string literals of the state table's SQL. -#}

{#- The literal rule of the warehouses where the backslash escapes too (Snowflake,
    BigQuery, Databricks, Spark, Redshift): the one body their state_literal variants
    call. Internal despite its name, which predates the underscore rule and is kept so
    existing calls still resolve. -#}
{% macro orchestra_dbt_backslash_literal(text) -%}
  {{ return("'" ~ (text | string).replace('\\', '\\\\').replace("'", "\\'") ~ "'") }}
{%- endmacro %}


{#- The values as a comma-separated list of literals, for `in (...)`. -#}
{% macro _state_literals(values) -%}
  {%- set literals = [] -%}
  {%- for value in values -%}
    {%- do literals.append(orchestra_dbt.state_literal(value)) -%}
  {%- endfor -%}
  {{ return(literals | join(', ')) }}
{%- endmacro %}
