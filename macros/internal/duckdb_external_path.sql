{#- Private helpers of duckdb__metadata_freshness. -#}

{#- The file path or glob behind a dbt-duckdb `external_location`:
      data/orders/*.parquet                      -> data/orders/*.parquet
      'data/orders/*.parquet'                    -> data/orders/*.parquet
      read_csv('data/orders.csv', header=true)   -> data/orders.csv
      read_parquet(['a.parquet', 'b.parquet'])   -> a.parquet (the first literal)
    Anything else that looks like a call (iceberg_scan(...), delta_scan(...),
    a subquery) cannot be measured from file times: none. -#}
{% macro _duckdb_external_path(external_location) -%}
  {%- if external_location is none or external_location is not string -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set text = external_location | trim -%}
  {%- if not text -%}
    {{ return(none) }}
  {%- endif -%}

  {%- if '(' in text -%}
    {%- set function_name = text.split('(', 1)[0] | trim | lower -%}
    {%- if not function_name.startswith('read_') -%}
      {{ return(none) }}
    {%- endif -%}
    {{ return(orchestra_dbt._first_string_literal(text.split('(', 1)[1])) }}
  {%- endif -%}

  {%- if text.startswith("'") or text.startswith('"') -%}
    {{ return(orchestra_dbt._first_string_literal(text)) }}
  {%- endif -%}
  {{ return(text) }}
{%- endmacro %}


{#- The content of the first SQL string literal in `text` ('...' with ''
    escapes, or "..." with "" escapes), unescaped; none if there is none. -#}
{% macro _first_string_literal(text) -%}
  {%- set single_quoted = "'((?:[^']|'')*)'" -%}
  {%- set double_quoted = '"((?:[^"]|"")*)"' -%}
  {%- set match = modules.re.search(single_quoted ~ '|' ~ double_quoted, text) -%}
  {%- if match is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if match.group(1) is not none -%}
    {{ return(match.group(1).replace("''", "'")) }}
  {%- endif -%}
  {{ return(match.group(2).replace('""', '"')) }}
{%- endmacro %}
