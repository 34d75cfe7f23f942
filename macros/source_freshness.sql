{#-
  orchestra_dbt.source_freshness

  Answers one question for `orc`: when did this source last receive data?

  Return value (consumed by Python through `adapter.execute_macro`):
    - a datetime (what the warehouse driver gives; may be naive or aware),
    - or an ISO-8601 string, if the warehouse only gives text,
    - or none when freshness cannot be measured: nothing configured and no
      metadata available for the adapter, an empty table, or parse time
      (`execute` is false).
  It never returns a marker string and never prints anything to be parsed.

  Order of preference, for every adapter:
    1. loaded_at_query  (dbt's own collect_freshness_custom_sql)
    2. loaded_at_field  (dbt's own collect_freshness, with the optional filter)
    3. warehouse metadata, where the adapter has any (see the adapter variants)
-#}

{% macro source_freshness(relation, loaded_at_field=none, loaded_at_query=none, filter=none, external_location=none) -%}
  {{ return(adapter.dispatch('source_freshness', 'orchestra_dbt')(relation, loaded_at_field, loaded_at_query, filter, external_location)) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    The one body for every adapter: what the user configured first, then
    whatever metadata the warehouse keeps (see metadata_freshness).
--------------------------------------------------------------------------- -#}

{% macro default__source_freshness(relation, loaded_at_field, loaded_at_query, filter, external_location) -%}
  {%- if loaded_at_query or loaded_at_field -%}
    {{ return(orchestra_dbt._loaded_at_freshness(relation, loaded_at_field, loaded_at_query, filter)) }}
  {%- endif -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(orchestra_dbt.metadata_freshness(relation, external_location)) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    metadata_freshness: the source's latest change time from warehouse
    metadata, or none. Only the warehouses that keep such metadata differ;
    PostgreSQL and others have none.
--------------------------------------------------------------------------- -#}

{% macro metadata_freshness(relation, external_location=none) -%}
  {{ return(adapter.dispatch('metadata_freshness', 'orchestra_dbt')(relation, external_location)) }}
{%- endmacro %}


{% macro default__metadata_freshness(relation, external_location) -%}
  {{ return(none) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    duckdb: file-backed sources (dbt-duckdb `external_location`) are measured
    by the newest file modification time. `read_blob` is only asked for its
    `last_modified` column, so no file contents are read.
--------------------------------------------------------------------------- -#}

{% macro duckdb__metadata_freshness(relation, external_location) -%}

  {#- dbt-duckdb keeps the formatted location of a source on the relation
      (`relation.external`). It is used when no location was passed, or when
      the one passed is still an unformatted template such as 'data/{name}.csv'. -#}
  {%- set location = external_location -%}
  {%- set relation_external = relation.external if relation.external is defined else none -%}
  {%- if relation_external and (not location or (location is string and '{' in location)) -%}
    {%- set location = relation_external -%}
  {%- endif -%}

  {%- set path = orchestra_dbt._duckdb_external_path(location) -%}
  {%- if not path or not execute -%}
    {{ return(none) }}
  {%- endif -%}

  {%- set path_literal = "'" ~ dbt.escape_single_quotes(path) ~ "'" -%}

  {#- Older DuckDB releases raise when a pattern matches no file; ask first. -#}
  {%- set matched = orchestra_dbt._first_cell(run_query('select count(*) as file_count from glob(' ~ path_literal ~ ')')) -%}
  {%- if not matched -%}
    {{ return(none) }}
  {%- endif -%}

  {%- set newest = run_query('select max(last_modified) as last_modified from read_blob(' ~ path_literal ~ ')') -%}
  {{ return(orchestra_dbt._first_cell(newest)) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    databricks: the newest entry of the Delta transaction log.
--------------------------------------------------------------------------- -#}

{% macro databricks__metadata_freshness(relation, external_location) -%}

  {%- set history_sql -%}
    describe history {{ relation }} limit 1
  {%- endset -%}
  {{ return(orchestra_dbt._column_value(run_query(history_sql), 'timestamp')) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    snowflake: `last_altered` from the database's information schema.
    Unquoted identifiers are stored upper-cased by Snowflake, quoted ones
    exactly as written, so the comparison follows the relation's quote policy.
--------------------------------------------------------------------------- -#}

{% macro snowflake__metadata_freshness(relation, external_location) -%}

  {%- set metadata_sql -%}
    select max(last_altered) as last_altered
    from {{ relation.information_schema('tables') }}
    where table_schema = {{ orchestra_dbt._snowflake_stored_name(relation.schema, relation.quote_policy.schema) }}
      and table_name = {{ orchestra_dbt._snowflake_stored_name(relation.identifier, relation.quote_policy.identifier) }}
  {%- endset -%}
  {{ return(orchestra_dbt._first_cell(run_query(metadata_sql))) }}
{%- endmacro %}


{% macro _snowflake_stored_name(name, quoted) -%}
  {%- set stored = name if quoted else (name | upper) -%}
  {{ return("'" ~ dbt.escape_single_quotes(stored) ~ "'") }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    bigquery: `last_modified_time` (milliseconds since the epoch) from the
    dataset's `__TABLES__` meta-table.
--------------------------------------------------------------------------- -#}

{% macro bigquery__metadata_freshness(relation, external_location) -%}

  {%- set tables_meta = relation.incorporate(path={'identifier': '__TABLES__'}) -%}
  {%- set metadata_sql -%}
    select timestamp_millis(max(last_modified_time)) as last_modified
    from {{ tables_meta }}
    where table_id = '{{ dbt.escape_single_quotes(relation.identifier) }}'
  {%- endset -%}
  {{ return(orchestra_dbt._first_cell(run_query(metadata_sql))) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    Helpers (private: the leading underscore means no stability promise).
--------------------------------------------------------------------------- -#}

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


{#- First column of the first row of a `load_result(...)` value or of an agate
    table (what `run_query` returns); none when there is no such cell. -#}
{% macro _first_cell(result) -%}
  {%- if result is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set table = result.table if result.table is defined else result -%}
  {%- if table is none or table.rows is not defined or (table.rows | length) == 0 -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set row = table.rows[0] -%}
  {%- if (row | length) == 0 -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(row[0]) }}
{%- endmacro %}


{#- Value of the named column (case-insensitive) in the first row of an agate
    table; none when the table is empty or has no such column. -#}
{% macro _column_value(table, column_name) -%}
  {%- if table is none or table.rows is not defined or (table.rows | length) == 0 -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set names = table.column_names | map('lower') | list -%}
  {%- if (column_name | lower) not in names -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(table.rows[0][names.index(column_name | lower)]) }}
{%- endmacro %}


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
