{#- Private: the metadata queries of the Snowflake, BigQuery, Databricks and Spark variants
    of data_versions. -#}

{#- Snowflake: for relations of one database, the type (BASE TABLE or VIEW), last_altered
    (nanoseconds since the epoch, so the session's time zone plays no part), row_count and
    bytes (none for a view) of those that are base tables or views, from the database's
    information_schema.tables, as text. Names are matched as Snowflake stores them:
    upper-cased unless quoted. -#}
{% macro _snowflake_tables_sql(relations) -%}
  {%- set names = [] -%}
  {%- for relation in relations -%}
    {%- do names.append(orchestra_dbt._snowflake_stored_pair(relation)) -%}
  {%- endfor -%}
  {%- set sql -%}
select
    table_schema,
    table_name,
    table_type,
    to_varchar(date_part(epoch_nanosecond, last_altered)) as last_altered,
    to_varchar(row_count) as row_count,
    to_varchar(bytes) as bytes
from {{ relations[0].information_schema('tables') }}
where table_type in ('BASE TABLE', 'VIEW')
  and ({{ orchestra_dbt._stored_name_conditions(names, 'table_schema', 'table_name') }})
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- [schema, table] of a relation as Snowflake stores them. -#}
{% macro _snowflake_stored_pair(relation) -%}
  {{ return([
      orchestra_dbt._stored_identifier(relation.schema, relation.quote_policy.schema, 'upper'),
      orchestra_dbt._stored_identifier(relation.identifier, relation.quote_policy.identifier, 'upper')]) }}
{%- endmacro %}


{#- BigQuery: for relations of one dataset, their tables' (type 1: not views, not external
    tables) last_modified_time (milliseconds since the epoch), row_count and size_bytes,
    from the dataset's __TABLES__ meta-table, as text. BigQuery names are case-sensitive. -#}
{% macro _bigquery_tables_sql(relations) -%}
  {%- set names = [] -%}
  {%- for relation in relations -%}
    {%- if relation.identifier not in names -%}
      {%- do names.append(relation.identifier) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set sql -%}
select
    table_id,
    cast(last_modified_time as string) as last_modified_time,
    cast(row_count as string) as row_count,
    cast(size_bytes as string) as size_bytes
from {{ relations[0].incorporate(path={'identifier': '__TABLES__'}) }}
where type = 1
  and table_id in ({{ orchestra_dbt._state_literals(names) }})
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- Databricks (Unity Catalog): which relations of one catalog are Delta tables (managed
    or external; not views, materialized views or streaming tables), from the catalog's
    information_schema.tables. Unity Catalog stores names lower-cased. -#}
{% macro _databricks_delta_tables_sql(relations) -%}
  {%- set names = [] -%}
  {%- for relation in relations -%}
    {%- do names.append(orchestra_dbt._databricks_stored_pair(relation)) -%}
  {%- endfor -%}
  {%- set sql -%}
select table_schema, table_name
from {{ orchestra_dbt._databricks_tables_view(relations[0]) }}
where table_type in ('MANAGED', 'EXTERNAL')
  and data_source_format = 'DELTA'
  and ({{ orchestra_dbt._stored_name_conditions(names, 'table_schema', 'table_name') }})
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- <catalog>.information_schema.tables of a relation's catalog, quoted as the adapter
    quotes its relations. -#}
{% macro _databricks_tables_view(relation) -%}
  {{ return(api.Relation.create(database=relation.database, schema='information_schema', identifier='tables')) }}
{%- endmacro %}


{#- [schema, table] of a relation as Unity Catalog stores them: lower-cased. -#}
{% macro _databricks_stored_pair(relation) -%}
  {{ return([relation.schema | lower, relation.identifier | lower]) }}
{%- endmacro %}


{#- Spark, and Databricks' hive_metastore (no information_schema): whether dbt's relation
    cache knows the relation as a Delta table. dbt-spark and dbt-databricks fill
    `is_delta` from the table's description; when they have none, the answer is no. -#}
{% macro _is_delta_table(relation) -%}
  {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {{ return(found is not none
      and found.type == 'table'
      and found.has_information is defined
      and found.has_information()
      and found.is_delta is defined
      and found.is_delta) }}
{%- endmacro %}


{#- A Delta table's version: the newest entry of its transaction log, {} when it has none. -#}
{% macro _delta_version(relation) -%}
  {%- set history = run_query('describe history ' ~ relation.render() ~ ' limit 1') -%}
  {%- set version = orchestra_dbt._column_value(history, 'version') -%}
  {%- if version is none -%}
    {{ return({}) }}
  {%- endif -%}
  {{ return({
      'version': orchestra_dbt._version_text(version),
      'timestamp': orchestra_dbt._version_text(orchestra_dbt._column_value(history, 'timestamp'))}) }}
{%- endmacro %}
