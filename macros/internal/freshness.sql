{#- Private helpers of source_freshness (the leading underscore means no stability promise). -#}

{#- loaded_at_query, else loaded_at_field (+ filter), through dbt's own
    freshness macros so that adapter overrides of those are honoured. -#}
{% macro _loaded_at_freshness(relation, loaded_at_field, loaded_at_query, filter) -%}
  {%- if not (loaded_at_query or loaded_at_field) or not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if loaded_at_query -%}
    {%- set result = collect_freshness_custom_sql(relation, loaded_at_query) -%}
  {%- else -%}
    {%- set result = collect_freshness(relation, loaded_at_field, filter) -%}
  {%- endif -%}
  {{ return(orchestra_dbt._first_cell(result)) }}
{%- endmacro %}


{#- A SQL string literal of an identifier as Snowflake stores it: upper-cased
    when unquoted, unchanged when quoted (snowflake__metadata_freshness). -#}
{% macro _snowflake_stored_name(name, quoted) -%}
  {%- set stored = name if quoted else (name | upper) -%}
  {{ return("'" ~ dbt.escape_single_quotes(stored) ~ "'") }}
{%- endmacro %}
