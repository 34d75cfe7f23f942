{#-
  orchestra_dbt.clone_relation(source_relation, target_relation, transient=true)

  Makes `target_relation` a table holding what the table `source_relation` holds now,
  replacing whatever `target_relation` was. `orc` calls it to clone a node's table from
  the target it defers to (production) into the run's target, when that table has the
  same definition and current data. Raises on failure; `target_relation` is then as it was.

  Zero-copy where the warehouse has it (the clone shares the source's storage until either
  side changes), elsewhere a copy: never a view over the source, which would change under
  this target whenever the source's target rebuilds, and which a rebuild of the source
  drops (or fails on) where replacing a table drops its dependent views (PostgreSQL).
  The schema of `target_relation` must exist (orc creates it first).
-#}

{% macro clone_relation(source_relation, target_relation, transient=true) -%}
  {{ return(adapter.dispatch('clone_relation', 'orchestra_dbt')(source_relation, target_relation, transient)) }}
{%- endmacro %}


{#- Snowflake: a zero-copy clone. `transient` is the model's setting (dbt-snowflake builds
    tables transient unless `transient: false`): a transient table clones only into a
    transient one, so a model set permanent whose source is transient fails here. -#}
{% macro snowflake__clone_relation(source_relation, target_relation, transient) -%}
  {%- do orchestra_dbt._drop_unless_table(target_relation) -%}
  {%- call statement('orchestra_dbt_clone_relation') -%}
    create or replace {{ 'transient ' if transient }}table {{ target_relation.render() }}
      clone {{ source_relation.render() }}
  {%- endcall -%}
{%- endmacro %}


{#- Databricks: a shallow clone of a Delta table, which copies its metadata and reads the
    source's data files (a deep clone would copy them all, the cost a clone avoids). The
    clone stays readable until a VACUUM of the source removes files it still reads. -#}
{% macro databricks__clone_relation(source_relation, target_relation, transient) -%}
  {%- do orchestra_dbt._drop_unless_table(target_relation) -%}
  {%- call statement('orchestra_dbt_clone_relation') -%}
    create or replace table {{ target_relation.render() }}
      shallow clone {{ source_relation.render() }}
  {%- endcall -%}
{%- endmacro %}


{#- BigQuery: a table clone, billed only for the data that later differs from the source. -#}
{% macro bigquery__clone_relation(source_relation, target_relation, transient) -%}
  {%- do orchestra_dbt._drop_unless_table(target_relation) -%}
  {%- call statement('orchestra_dbt_clone_relation') -%}
    create or replace table {{ target_relation.render() }}
      clone {{ source_relation.render() }}
  {%- endcall -%}
{%- endmacro %}


{#- PostgreSQL, DuckDB, Redshift and any other warehouse: a copy, in one transaction where
    the warehouse has them (the drop and the copy commit together). A missing source is
    an error before anything is dropped, also where every statement commits on its own. -#}
{% macro default__clone_relation(source_relation, target_relation, transient) -%}
  {%- set source = adapter.get_relation(
        database=source_relation.database,
        schema=source_relation.schema,
        identifier=source_relation.identifier) -%}
  {%- if source is none -%}
    {{ exceptions.raise_compiler_error(
         "orchestra_dbt.clone_relation: " ~ source_relation.render() ~ " does not exist") }}
  {%- endif -%}
  {%- set existing = adapter.get_relation(
        database=target_relation.database,
        schema=target_relation.schema,
        identifier=target_relation.identifier) -%}
  {%- if existing is not none -%}
    {%- call statement('orchestra_dbt_clone_drop', auto_begin=true) -%}
      {{ get_drop_sql(existing) }}
    {%- endcall -%}
  {%- endif -%}
  {%- call statement('orchestra_dbt_clone_relation', auto_begin=true) -%}
    create table {{ target_relation.render() }} as select * from {{ source_relation.render() }}
  {%- endcall -%}
  {%- do adapter.commit() -%}
{%- endmacro %}

