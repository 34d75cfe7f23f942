{#- The warehouse's text type, for every column of the state table. -#}

{% macro state_text_type() -%}
  {{ return(adapter.dispatch('state_text_type', 'orchestra_dbt')()) }}
{%- endmacro %}

{% macro default__state_text_type() -%}
  {{ return('text') }}
{%- endmacro %}

{% macro snowflake__state_text_type() -%}
  {{ return('varchar') }}
{%- endmacro %}

{% macro bigquery__state_text_type() -%}
  {{ return('string') }}
{%- endmacro %}

{% macro databricks__state_text_type() -%}
  {{ return('string') }}
{%- endmacro %}

{% macro spark__state_text_type() -%}
  {{ return('string') }}
{%- endmacro %}
