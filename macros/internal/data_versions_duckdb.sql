{#- Private: the queries of duckdb__data_versions. -#}

{#- The row alias of the content digest: `hash(<alias>)` is the hash of the whole row. A
    column of that name would shadow the row, so tables having one are left out by
    _duckdb_catalog_sql (their version is unknown). -#}
{% macro _duckdb_row_alias() -%}
  {{ return('orchestra_dbt_row') }}
{%- endmacro %}


{#- Which of the relations are base tables or views (missing relations are left out), with
    a digest of their column names and types and, for a view, of its definition. One query
    for all relations; DuckDB matches identifiers case-insensitively, and so does this
    query. -#}
{% macro _duckdb_catalog_sql(relations) -%}
  {%- set wanted = [] -%}
  {#- Dispatched once, and called once per distinct database or schema: most relations
      share them, and a macro call costs more than the rest of a row of this list. -#}
  {%- set literal = adapter.dispatch('state_literal', 'orchestra_dbt') -%}
  {%- set quoted = {} -%}
  {%- for relation in relations -%}
    {%- for name in [relation.database, relation.schema] if name and name not in quoted -%}
      {%- do quoted.update({name: literal(name)}) -%}
    {%- endfor -%}
    {%- set database = quoted[relation.database] if relation.database else 'current_database()' -%}
    {%- set schema = quoted[relation.schema] if relation.schema else 'current_schema()' -%}
    {%- do wanted.append('(' ~ loop.index0 ~ ', ' ~ database ~ ', ' ~ schema ~ ', ' ~ literal(relation.identifier) ~ ')') -%}
  {%- endfor -%}
  {%- set sql -%}
select
    wanted.relation_position,
    md5(string_agg(c.column_name || ' ' || c.data_type, ', ' order by c.ordinal_position)) as columns_digest,
    md5(any_value(v.view_definition)) as definition_digest
from (values
    {{ wanted | join(',\n    ') }}
) as wanted (relation_position, database_name, schema_name, table_name)
join information_schema.tables as t
  on lower(t.table_catalog) = lower(wanted.database_name)
 and lower(t.table_schema) = lower(wanted.schema_name)
 and lower(t.table_name) = lower(wanted.table_name)
join information_schema.columns as c
  on c.table_catalog = t.table_catalog and c.table_schema = t.table_schema and c.table_name = t.table_name
left join information_schema.views as v
  on v.table_catalog = t.table_catalog and v.table_schema = t.table_schema and v.table_name = t.table_name
where t.table_type in ('BASE TABLE', 'VIEW')
group by wanted.relation_position
having count(*) filter (where lower(c.column_name) = '{{ orchestra_dbt._duckdb_row_alias() }}') = 0
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- For each [position, relation] (existing base tables and views): the row count and the
    order-independent sum of the hash of every whole row (NULLs and duplicate rows
    included), as text; one `union all` query. A view is read as its readers read it, so
    its digest follows whatever it reads: tables, files, other views. -#}
{% macro _duckdb_digest_sql(entries) -%}
  {%- set alias = orchestra_dbt._duckdb_row_alias() -%}
  {%- set parts = [] -%}
  {%- for entry in entries -%}
    {%- do parts.append(
          'select ' ~ entry[0] ~ ' as relation_position, '
          ~ 'cast(count(*) as varchar) as row_count, '
          ~ 'cast(coalesce(sum(cast(hash(' ~ alias ~ ') as hugeint)), 0) as varchar) as content_digest\n'
          ~ 'from ' ~ entry[1].render() ~ ' as ' ~ alias) -%}
  {%- endfor -%}
  {{ return(parts | join('\nunion all\n')) }}
{%- endmacro %}


{#- The positions whose every path or glob matches at least one file, from [position,
    [path, ...]] entries; one query. Asked first because older DuckDB releases raise when a
    pattern given to read_blob matches no file (and a source whose pattern matches nothing
    cannot be read anyway: its version is unknown). -#}
{% macro _duckdb_glob_sql(entries) -%}
  {%- set parts = [] -%}
  {%- for entry in entries -%}
    {%- for path in entry[1] -%}
      {%- do parts.append('select ' ~ entry[0] ~ ' as relation_position, count(*) as file_count from glob(' ~ orchestra_dbt.state_literal(path) ~ ')') -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set sql -%}
select relation_position
from (
{{ parts | join('\nunion all\n') }}
) as matched
group by relation_position
having min(file_count) > 0
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- For each [position, [path, ...]] entry: the number of files, their total size, the
    newest modification time (microseconds since the epoch) and an order-independent digest
    of every (file name, size, modification time), as text. read_blob is only asked for
    those columns, so no file contents are read. One `union all` query. -#}
{% macro _duckdb_files_sql(entries) -%}
  {%- set parts = [] -%}
  {%- for entry in entries -%}
    {%- set literals = orchestra_dbt._state_literals(entry[1]) -%}
    {%- set files = literals if (entry[1] | length) == 1 else '[' ~ literals ~ ']' -%}
    {%- do parts.append(
          'select ' ~ entry[0] ~ ' as relation_position, '
          ~ 'cast(count(*) as varchar) as file_count, '
          ~ 'cast(coalesce(sum(size), 0) as varchar) as total_bytes, '
          ~ 'cast(epoch_us(max(last_modified)) as varchar) as newest_modified, '
          ~ 'cast(coalesce(sum(cast(hash(row(filename, size, last_modified)) as hugeint)), 0) as varchar) as listing_digest\n'
          ~ 'from read_blob(' ~ files ~ ')') -%}
  {%- endfor -%}
  {{ return(parts | join('\nunion all\n')) }}
{%- endmacro %}


{#- Every path or glob a dbt-duckdb `external_location` reads, or none when they cannot be
    told (iceberg_scan(...), delta_scan(...), a subquery, an empty path):
      data/orders/*.parquet                         -> ['data/orders/*.parquet']
      read_csv('data/orders.csv', header = true)    -> ['data/orders.csv']
      read_parquet(['data/a.parquet', 'b/*.parquet']) -> ['data/a.parquet', 'b/*.parquet']
    A list is read in full (unlike _duckdb_external_path, which takes its first file): a
    version must see a change to any of the files. -#}
{% macro _duckdb_external_paths(external_location) -%}
  {%- if external_location is none or external_location is not string or not (external_location | trim) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set text = external_location | trim -%}
  {%- set arguments = text.split('(', 1)[1] | trim if '(' in text else text -%}
  {%- if not arguments.startswith('[') -%}
    {%- set path = orchestra_dbt._duckdb_external_path(text) -%}
    {{ return([path] if path else none) }}
  {%- endif -%}
  {%- if '(' in text and not (text.split('(', 1)[0] | trim | lower).startswith('read_') -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set literal = "(?:'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")" -%}
  {%- set listed = modules.re.match('\\[\\s*(' ~ literal ~ '(?:\\s*,\\s*' ~ literal ~ ')*)\\s*,?\\s*\\]', arguments) -%}
  {%- if listed is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set paths = [] -%}
  {%- for quoted in modules.re.findall(literal, listed.group(1)) -%}
    {%- set path = orchestra_dbt._first_string_literal(quoted) -%}
    {%- if not path -%}
      {{ return(none) }}
    {%- endif -%}
    {%- do paths.append(path) -%}
  {%- endfor -%}
  {{ return(paths) }}
{%- endmacro %}
