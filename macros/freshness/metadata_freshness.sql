{#-
  orchestra_dbt.metadata_freshness: the source's latest change time from
  warehouse metadata, or none. Only the warehouses that keep such metadata
  have a variant here; PostgreSQL and the others have none (default__).
-#}

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
