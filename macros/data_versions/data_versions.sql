{#-
  orchestra_dbt.data_versions(relations)

  Measures the data version of many tables at once: a set of fields that changes whenever
  the table's data changes. Two versions are compared field by field, and any difference
  means "changed"; so every value is text and the comparison is exact.

  Return value (consumed by Python through `adapter.execute_macro`):
    {relation.render(): {field: text, ...}, ...}
  with one entry per relation given (a relation given twice appears once), and {} as the
  version of a relation whose version is unknown: it does not exist, or the warehouse keeps
  nothing to tell (the caller treats unknown as changed). At parse time (`execute` false)
  the answer is {} and nothing runs.

  A view's version follows what it reads: its definition and the data under it, through
  views over views and across schemas. Where the warehouse can prove what a view reads
  (DuckDB by reading the view itself, PostgreSQL's dependency catalog, Snowflake's
  get_object_references) the view gets a version; elsewhere it stays unknown.

  Cost: one catalog query and one measuring query for all relations where the warehouse
  allows it, one query per database or dataset where the metadata lives there, and one
  query per table only on Databricks and Spark, whose Delta log is read per table.
  The queries of each variant are in macros/internal/data_versions_*.sql.
-#}

{% macro data_versions(relations) -%}
  {{ return(adapter.dispatch('data_versions', 'orchestra_dbt')(relations)) }}
{%- endmacro %}


{#- Any other warehouse: nothing is known, so every version is unknown ({}), which the
    caller treats as changed. No query runs. -#}
{% macro default__data_versions(relations) -%}
  {{ return(orchestra_dbt._unknown_versions(orchestra_dbt._distinct_relations(relations))) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    postgres: an exact row-version digest. PostgreSQL keeps no per-table change time
    (commit times only with track_commit_timestamp), and pg_stat_user_tables' counters lag
    (they are sent after the transaction, asynchronously) and reset (crash, pg_stat_reset),
    so neither can prove a table unchanged. Every row version carries the id of the
    transaction that wrote it (xmin) instead, and a new version is written on every insert
    and update. Fields:
      oid, relfilenode  pg_class: a drop-and-recreate gives a new oid; TRUNCATE, VACUUM FULL,
                        CLUSTER and rewriting ALTERs a new relfilenode;
      columns           md5 of the column names and types: ALTERs that rewrite nothing
                        (ADD COLUMN with a constant default, DROP or RENAME COLUMN);
      rows              count(*): deletes and inserts;
      xmin_digest       sum of a 64-bit hash of each visible row's xmin, order-independent:
                        every update and insert, whatever its loaded_at, and even by a
                        transaction that began before the last measurement and commits
                        after it (a rule on max(xmin) or on a time would miss that).
    Catches: every INSERT, UPDATE, DELETE, TRUNCATE, drop-and-recreate and column change.
    Blind spots: none for committed data, short of a 64-bit hash collision or of an update
    whose new xmin equals the old row's after 2^32 transactions (xid wraparound).
    Over-reports: an UPDATE setting a column to its own value (a new row version), VACUUM
    FULL and CLUSTER (a new relfilenode); never a plain VACUUM or autovacuum (freezing keeps
    the raw xmin that the xmin column shows since PostgreSQL 9.4).
    Cost: two queries for all relations: the catalog (pg_class, pg_namespace, pg_attribute,
    and for views pg_rewrite, pg_depend and pg_proc), then one `union all` reading every
    table in full once (a sequential scan of each: a count and a hash per row, no column
    values), in one snapshot. Foreign tables and missing relations are unknown ({}). Needs
    PostgreSQL 11 (hashint8extended).

    Views: pg_depend lists the relations a view's rewrite rule reads; following it through
    every view under the view (across schemas) ends at the tables and materialized views
    that hold its data (a materialized view is measured as the table it is). A view's
    version is `definition` (an md5 of the name, columns and pg_get_viewdef of every view
    on the way) plus the fields above of each of those tables, named after it:
    `raw.orders.xmin_digest`. Catches: whatever its tables catch, and any view on the way
    redefined. A view is unknown when something on the way reads what no table holds: a
    foreign table or another kind of relation, a user-defined function (it may read
    anything), a volatile one (random(), clock_timestamp()), the clock (now(),
    current_date and the other SQL value functions, which also cover current_user), or a
    system catalog (PostgreSQL records no dependency on those); these are read from the
    rule's stored tree (pg_rewrite.ev_action).
--------------------------------------------------------------------------- -#}

{% macro postgres__data_versions(relations) -%}
  {%- set relations = orchestra_dbt._distinct_relations(relations) -%}
  {%- set versions = orchestra_dbt._unknown_versions(relations) -%}
  {%- if not execute or not relations -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- set layouts = orchestra_dbt._postgres_layouts(run_query(orchestra_dbt._postgres_catalog_sql(relations))) -%}
  {%- set stored = [] -%}
  {%- set stored_index = {} -%}
  {%- for position, layout in layouts.items() -%}
    {%- for part in layout['stored'] if part['oid'] not in stored_index -%}
      {%- do stored_index.update({part['oid']: stored | length}) -%}
      {%- do stored.append([stored | length, api.Relation.create(
            database=relations[position].database, schema=part['schema'], identifier=part['table'])]) -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set digests = orchestra_dbt._versions_by_position(
        run_query(orchestra_dbt._postgres_digest_sql(stored)),
        {'rows': 'row_count', 'xmin_digest': 'xmin_digest'}) if stored else {} -%}
  {%- for position, layout in layouts.items() -%}
    {%- set version = orchestra_dbt._postgres_version(layout, stored_index, digests) -%}
    {%- if version is not none -%}
      {%- do versions.update({relations[position].render(): version}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    redshift: the default (every version unknown). dbt-redshift dispatches to postgres__
    otherwise, and that cannot work: Redshift has no xmin column, and none of its documented
    metadata is exact or conservative. svv_table_info has tbl_rows and size but no change
    counter or time: an UPDATE followed by the (automatic) VACUUM DELETE leaves both as they
    were; the STL_INSERT/STL_DELETE logs keep a few days and show a user only their own
    queries; the insertxid/deletexid system columns are undocumented. A content digest
    (as on DuckDB) would cost a full scan of every column of every table per run.
--------------------------------------------------------------------------- -#}

{% macro redshift__data_versions(relations) -%}
  {{ return(orchestra_dbt.default__data_versions(relations)) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    duckdb: DuckDB keeps no change time or counter for a table, so the version of a table
    is an aggregate digest of its content:
      columns   md5 of the column names and types (a rename or a type change that leaves
                the values' hashes as they were);
      rows      count(*);
      digest    sum (as hugeint, order-independent) of hash() of each whole row: NULLs hash
                to a value of their own and duplicate rows each count.
    Catches: any change to any value, row or column; identical content keeps its version,
    so a drop-and-recreate with the same rows, or an UPDATE setting a column to its own
    value, is (rightly) unchanged. Blind spots: row order; a 64-bit hash collision. A
    DuckDB release that changes hash() changes every version once (a rebuild, not a stale
    reuse). Cost: two queries for all tables: information_schema, then one `union all`
    reading every existing table in full (every column hashed, which is cheap on a local
    columnar file but grows with the data). Missing tables are unknown ({}), and so is a
    table with a column named like the row alias (_duckdb_row_alias), which would hide the
    row from hash().

    A view is measured the same way, by the rows it returns now, plus `definition` (an md5
    of its SQL in information_schema.views): whatever it reads (tables, files through
    read_csv/read_parquet, other views, other schemas or attached databases), a change to
    its rows moves the digest. Blind spots: those of tables; a view whose rows follow the
    clock (now()) moves with it, so what reads it is rebuilt when its rows change. Cost:
    the view's query runs in full on every measurement (a view over large files reads
    them). A view that fails to run (a table under it dropped) fails the whole
    measurement, and every version counts as unknown for that run.

    A file-backed source (dbt-duckdb puts its formatted `external_location` on the
    relation as `relation.external`, and renders the relation as that location) is
    measured by its files instead, without reading their contents (read_blob is asked for
    name, size and modification time only): files (count), bytes (total size), modified
    (newest modification time, microseconds since the epoch), listing (an order-independent
    digest of every file's name, size and modification time). Catches: files added,
    removed, renamed, rewritten (a new time or size). Blind spot: a file rewritten in place
    with its size kept and its modification time set back. Cost: one query listing the
    globs (older DuckDB releases raise when a pattern matches no file) and one reading the
    listings, for all file sources. A location that names no file pattern (iceberg_scan,
    delta_scan, a subquery) or whose pattern matches no file is unknown ({}).
--------------------------------------------------------------------------- -#}

{% macro duckdb__data_versions(relations) -%}
  {%- set relations = orchestra_dbt._distinct_relations(relations) -%}
  {%- set versions = orchestra_dbt._unknown_versions(relations) -%}
  {%- if not execute or not relations -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- set tables = [] -%}
  {%- set file_sources = [] -%}
  {%- for relation in relations -%}
    {%- set external = relation.external if relation.external is defined else none -%}
    {%- if not external -%}
      {%- do tables.append(relation) -%}
    {%- elif orchestra_dbt._duckdb_external_paths(external) -%}
      {%- do file_sources.append([loop.index0, orchestra_dbt._duckdb_external_paths(external)]) -%}
    {%- endif -%}
  {%- endfor -%}

  {%- if tables -%}
    {%- set found = orchestra_dbt._without_empty_fields(orchestra_dbt._versions_by_position(
          run_query(orchestra_dbt._duckdb_catalog_sql(tables)),
          {'columns': 'columns_digest', 'definition': 'definition_digest'})) -%}
    {%- if found -%}
      {%- set digests = orchestra_dbt._versions_by_position(
            run_query(orchestra_dbt._duckdb_digest_sql(orchestra_dbt._positioned(tables, found.keys()))),
            {'rows': 'row_count', 'digest': 'content_digest'}) -%}
      {%- do versions.update(orchestra_dbt._merged_versions(tables, found, digests)) -%}
    {%- endif -%}
  {%- endif -%}

  {%- if file_sources -%}
    {%- set matched = orchestra_dbt._versions_by_position(run_query(orchestra_dbt._duckdb_glob_sql(file_sources)), {}) -%}
    {%- set readable = [] -%}
    {%- for entry in file_sources if entry[0] in matched -%}
      {%- do readable.append(entry) -%}
    {%- endfor -%}
    {%- if readable -%}
      {%- set listings = orchestra_dbt._versions_by_position(
            run_query(orchestra_dbt._duckdb_files_sql(readable)),
            {'files': 'file_count', 'bytes': 'total_bytes', 'modified': 'newest_modified', 'listing': 'listing_digest'}) -%}
      {%- do versions.update(orchestra_dbt._merged_versions(relations, matched, listings)) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(versions) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    snowflake: the database's information_schema.tables, which Snowflake keeps current
    (unlike account_usage, no latency): last_altered (nanoseconds since the epoch), rows
    (row_count), bytes. Catches: every DML (insert, update, delete, merge, copy into,
    truncate) and DDL, including a drop-and-recreate, as last_altered moves on each.
    Blind spots: none for committed data. Over-reports: background metadata operations
    (automatic clustering) move last_altered too, and so may a DML that changes nothing. Cost: one
    metadata query per database for all its schemas and tables (no table is scanned).
    External tables and missing tables are unknown ({}).

    Views: get_object_references lists the tables and views a view references; asked again
    for each view it lists, level by level, it gives every object under the view, across
    schemas and databases. A view's version is its own last_altered (which a redefinition
    moves) plus the fields above of each object under it, named after it:
    `ANALYTICS.RAW.ORDERS.last_altered` (views have no rows or bytes). Catches: what its
    tables catch, and any view on the way redefined. Unknown: a view reading an object of
    another type (an external table), or nested more than 8 levels deep. The function
    raises an error, instead of answering, for a view over a materialized view, a stage or
    a function, or over a secure view the role does not own: that fails the whole
    measurement (every version unknown for that run). Cost: one references query per
    level of nesting for all views, and one metadata query per database they reach.
--------------------------------------------------------------------------- -#}

{% macro snowflake__data_versions(relations) -%}
  {%- set relations = orchestra_dbt._distinct_relations(relations) -%}
  {%- set versions = orchestra_dbt._unknown_versions(relations) -%}
  {%- if not execute or not relations -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- set metadata = orchestra_dbt._snowflake_metadata(relations) -%}
  {%- set views = [] -%}
  {%- for relation in relations -%}
    {%- set found = metadata.get(orchestra_dbt._snowflake_stored_key(relation)) -%}
    {%- if found is not none and found['type'] == 'VIEW' -%}
      {%- do views.append(orchestra_dbt._snowflake_stored_key(relation)) -%}
    {%- elif found is not none -%}
      {%- do versions.update({relation.render(): {
            'last_altered': found['last_altered'], 'rows': found['rows'], 'bytes': found['bytes']}}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if views -%}
    {%- set view_versions = orchestra_dbt._snowflake_view_versions(views, metadata) -%}
    {%- for relation in relations if orchestra_dbt._snowflake_stored_key(relation) in view_versions -%}
      {%- do versions.update({relation.render(): view_versions[orchestra_dbt._snowflake_stored_key(relation)]}) -%}
    {%- endfor -%}
  {%- endif -%}
  {{ return(versions) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    bigquery: the dataset's __TABLES__ meta-table: last_modified_time (milliseconds since
    the epoch), rows (row_count), bytes (size_bytes). Catches: every load, DML, copy and
    replace (a drop-and-recreate included) as last_modified_time moves on each. Blind
    spot: rows still in the streaming buffer (legacy streaming inserts) are not in the
    metadata until they are committed to storage, when the version moves on; a version
    taken meanwhile misses them for that long. Over-reports: metadata-only changes
    (description, labels) can move last_modified_time too. Cost: one metadata query per
    dataset (no table is scanned). External tables and missing tables are unknown ({}).
    Views are unknown too: INFORMATION_SCHEMA.VIEWS keeps a view's text but no list of what
    it reads, and the tables a query reads are known only to a job run (or dry-run) through
    the API, not to SQL; parsing the text would miss what it reads through other views,
    functions and wildcards.
--------------------------------------------------------------------------- -#}

{% macro bigquery__data_versions(relations) -%}
  {%- set relations = orchestra_dbt._distinct_relations(relations) -%}
  {%- set versions = orchestra_dbt._unknown_versions(relations) -%}
  {%- if not execute or not relations -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- set datasets = [] -%}
  {%- for relation in relations -%}
    {%- do datasets.append((relation.database, relation.schema)) -%}
  {%- endfor -%}
  {%- for group in orchestra_dbt._grouped_relations(relations, datasets) -%}
    {%- set found = orchestra_dbt._versions_by_name(
          run_query(orchestra_dbt._bigquery_tables_sql(group)), none, 'table_id',
          {'last_modified': 'last_modified_time', 'rows': 'row_count', 'bytes': 'size_bytes'}) -%}
    {%- for relation in group if (none, relation.identifier) in found -%}
      {%- do versions.update({relation.render(): found[(none, relation.identifier)]}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    databricks: the Delta transaction log. Every commit (write, merge, update, delete,
    truncate, replace, restore) adds an entry with the next version number and its time;
    `describe history <table> limit 1` reads the newest: version, timestamp (the
    timestamp tells a table dropped and created again, whose versions restart at 0).
    Catches: every commit. Blind spots: none for committed data. Over-reports: OPTIMIZE,
    VACUUM and other maintenance commits, and an UPDATE that changes nothing. Cost: one
    information_schema query per Unity Catalog catalog to learn which relations are Delta
    tables (describe history fails on anything else, and a failed query would fail the
    whole call), then one `describe history` per Delta table: Databricks has no way to read
    the log of many tables in one query. Relations in hive_metastore are asked of dbt's
    relation cache instead (as on Spark). Non-Delta and missing tables are unknown ({}).
    Views are unknown too: information_schema.views keeps a view's text (for its owner
    only) but no list of what it reads, and system.access.table_lineage records what
    queries read after the fact, with a delay, so neither proves what a view reads now.
--------------------------------------------------------------------------- -#}

{% macro databricks__data_versions(relations) -%}
  {%- set relations = orchestra_dbt._distinct_relations(relations) -%}
  {%- set versions = orchestra_dbt._unknown_versions(relations) -%}
  {%- if not execute or not relations -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- set unity = [] -%}
  {%- set catalogs = [] -%}
  {%- set hive = [] -%}
  {%- for relation in relations -%}
    {%- if relation.database and (relation.database | lower) != 'hive_metastore' -%}
      {%- do unity.append(relation) -%}
      {%- do catalogs.append(relation.database | lower) -%}
    {%- else -%}
      {%- do hive.append(relation) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- for group in orchestra_dbt._grouped_relations(unity, catalogs) -%}
    {%- set delta = orchestra_dbt._versions_by_name(
          run_query(orchestra_dbt._databricks_delta_tables_sql(group)), 'table_schema', 'table_name', {}) -%}
    {%- for relation in group -%}
      {%- set pair = orchestra_dbt._databricks_stored_pair(relation) -%}
      {%- if (pair[0], pair[1]) in delta -%}
        {%- do versions.update({relation.render(): orchestra_dbt._delta_version(relation)}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- do versions.update(orchestra_dbt.spark__data_versions(hive)) -%}
  {{ return(versions) }}
{%- endmacro %}


{#- ---------------------------------------------------------------------------
    spark: as on Databricks, for Delta tables only (what dbt-spark's relation cache marks
    `is_delta`): version and timestamp of `describe history <table> limit 1`, one query per
    table. Parquet, Hive and other tables keep no log of their writes, so their version,
    like that of views and missing tables, is unknown ({}).
--------------------------------------------------------------------------- -#}

{% macro spark__data_versions(relations) -%}
  {%- set relations = orchestra_dbt._distinct_relations(relations) -%}
  {%- set versions = orchestra_dbt._unknown_versions(relations) -%}
  {%- if not execute -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- for relation in relations if orchestra_dbt._is_delta_table(relation) -%}
    {%- do versions.update({relation.render(): orchestra_dbt._delta_version(relation)}) -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}
