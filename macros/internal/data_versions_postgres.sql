{#- Private: the two queries of postgres__data_versions, and how their answers make versions. -#}

{#- What the relations are and what each one's data is stored in, one query for all of them:
    a row per (relation, stored relation) with its oid, relfilenode and a digest of its
    columns. A table (plain, partitioned or materialized view) is stored in itself. A view
    is stored in the tables and materialized views it reads, through every view under it
    (pg_rewrite and pg_depend, recursively, across schemas), and its rows also carry
    `definition_digest`, an md5 of the definition and columns of every view of that
    closure. A view is left out (unknown) when its closure reads what no stored relation
    holds: a foreign table or any relation other than a table, view or materialized view;
    a function that is user-defined (it may read anything) or volatile (random(),
    clock_timestamp()); the clock (now(), current_date and other SQL value functions); or a
    system catalog (pinned: PostgreSQL records no dependency on it). Foreign tables, other
    kinds and missing relations are left out too. Names are matched as PostgreSQL stores
    them: as written when quoted, lower-cased when not. -#}
{% macro _postgres_catalog_sql(relations) -%}
  {%- set wanted = [] -%}
  {%- set literal = adapter.dispatch('state_literal', 'orchestra_dbt') -%}
  {%- for relation in relations -%}
    {%- set database = literal(relation.database) if relation.database else 'current_database()' -%}
    {%- set schema = literal(orchestra_dbt._stored_identifier(relation.schema, relation.quote_policy.schema, 'lower')) if relation.schema else 'current_schema()' -%}
    {%- set name = literal(orchestra_dbt._stored_identifier(relation.identifier, relation.quote_policy.identifier, 'lower')) -%}
    {%- do wanted.append('(' ~ loop.index0 ~ ', ' ~ database ~ ', ' ~ schema ~ ', ' ~ name ~ ')') -%}
  {%- endfor -%}
  {%- set sql -%}
with recursive wanted (relation_position, database_name, schema_name, table_name) as (
    values
    {{ wanted | join(',\n    ') }}
),
found as (
    select wanted.relation_position, c.oid, c.relkind
    from wanted
    join pg_catalog.pg_namespace as n
      on n.nspname = wanted.schema_name
    join pg_catalog.pg_class as c
      on c.relnamespace = n.oid and c.relname = wanted.table_name
    where wanted.database_name = current_database()
      and c.relkind in ('r', 'p', 'm', 'v')
),
reads (relation_position, oid, relkind) as (
    select relation_position, oid, relkind from found
    union
    select reads.relation_position, c.oid, c.relkind
    from reads
    join pg_catalog.pg_rewrite as r
      on r.ev_class = reads.oid
    join pg_catalog.pg_depend as d
      on d.classid = 'pg_catalog.pg_rewrite'::regclass and d.objid = r.oid
     and d.refclassid = 'pg_catalog.pg_class'::regclass and d.refobjid <> reads.oid
    join pg_catalog.pg_class as c
      on c.oid = d.refobjid
    where reads.relkind = 'v'
),
rules as (
    select reads.relation_position, cast(r.ev_action as text) as tree
    from reads
    join pg_catalog.pg_rewrite as r
      on r.ev_class = reads.oid
    where reads.relkind = 'v'
),
used as (
    select rules.relation_position, found_id[1] as kind, cast(found_id[2] as oid) as id
    from rules
    cross join lateral regexp_matches(rules.tree, ':(relid|funcid|opfuncid|aggfnoid|winfnoid) ([0-9]+)', 'g') as found_id
),
unprovable as (
    select relation_position from reads where relkind not in ('r', 'p', 'm', 'v', 'c')
    union
    select relation_position from rules where rules.tree like '%SQLVALUEFUNCTION%'
    union
    select used.relation_position
    from used
    left join pg_catalog.pg_proc as p
      on p.oid = used.id
    where used.id <> 0 and case when used.kind = 'relid' then used.id < 16384
          else p.oid is null
            or p.provolatile = 'v'
            or p.pronamespace <> 'pg_catalog'::regnamespace
            or p.proname in ('now', 'transaction_timestamp', 'statement_timestamp')
          end
),
described as (
    select
        c.oid,
        n.nspname,
        c.relname,
        c.relfilenode,
        md5(coalesce(string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum), '')) as columns_digest
    from (select distinct oid from reads) as read_oid
    join pg_catalog.pg_class as c
      on c.oid = read_oid.oid
    join pg_catalog.pg_namespace as n
      on n.oid = c.relnamespace
    left join pg_catalog.pg_attribute as a
      on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    group by c.oid, n.nspname, c.relname, c.relfilenode
),
definitions as (
    select
        reads.relation_position,
        md5(string_agg(quote_ident(v.nspname) || '.' || quote_ident(v.relname) || ' (' || v.columns_digest || ') ' || pg_catalog.pg_get_viewdef(v.oid), E'\n' order by v.nspname, v.relname)) as definition_digest
    from reads
    join described as v
      on v.oid = reads.oid
    where reads.relkind = 'v'
    group by reads.relation_position
)
select
    found.relation_position,
    definitions.definition_digest,
    stored.nspname || '.' || stored.relname as stored_name,
    stored.nspname as stored_schema,
    stored.relname as stored_table,
    cast(stored.oid as text) as table_oid,
    cast(stored.relfilenode as text) as relfilenode,
    stored.columns_digest
from found
left join definitions
  on definitions.relation_position = found.relation_position
left join reads
  on reads.relation_position = found.relation_position and reads.relkind in ('r', 'p', 'm')
left join described as stored
  on stored.oid = reads.oid
where found.relation_position not in (select relation_position from unprovable)
order by found.relation_position, stored.nspname, stored.relname
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- For each [position, relation] (tables that exist): the row count and the order-
    independent sum of a 64-bit hash of each row version's xmin, as text; one
    `union all` query, so one snapshot for all of them. -#}
{% macro _postgres_digest_sql(entries) -%}
  {%- set parts = [] -%}
  {%- for entry in entries -%}
    {%- do parts.append(
          'select ' ~ entry[0] ~ ' as relation_position, '
          ~ 'cast(count(*) as text) as row_count, '
          ~ 'cast(coalesce(sum(hashint8extended(cast(cast(version_row.xmin as text) as bigint), 0)), 0) as text) as xmin_digest\n'
          ~ 'from ' ~ entry[1].render() ~ ' as version_row') -%}
  {%- endfor -%}
  {{ return(parts | join('\nunion all\n')) }}
{%- endmacro %}


{#- {position: {'definition': text or none, 'stored': [{oid, schema, table, name, fields}]}}
    from the rows of _postgres_catalog_sql: what each measurable relation is stored in, with
    the catalog's fields of each stored relation (oid, relfilenode, columns). -#}
{% macro _postgres_layouts(table) -%}
  {%- set names = table.column_names | map('lower') | list -%}
  {%- set fields = {'oid': 'table_oid', 'relfilenode': 'relfilenode', 'columns': 'columns_digest'} -%}
  {%- set versions = orchestra_dbt._rows_versions(table, fields) -%}
  {%- set layouts = {} -%}
  {%- for row in table.rows -%}
    {%- set position = row[names.index('relation_position')] | int -%}
    {%- if position not in layouts -%}
      {%- set definition = row[names.index('definition_digest')] -%}
      {%- do layouts.update({position: {'definition': definition, 'stored': []}}) -%}
    {%- endif -%}
    {%- set oid = row[names.index('table_oid')] -%}
    {%- if oid is not none -%}
      {%- do layouts[position]['stored'].append({
            'oid': oid,
            'schema': row[names.index('stored_schema')],
            'table': row[names.index('stored_table')],
            'name': row[names.index('stored_name')],
            'fields': versions[loop.index0]}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(layouts) }}
{%- endmacro %}


{#- The version of one relation from its layout and the digests of the stored relations
    (by their index in stored_index): a table's own fields (oid, relfilenode, columns,
    rows, xmin_digest); a view's `definition` and the fields of every stored relation it
    reads, named after it (`raw.orders.xmin_digest`). None when a stored relation was not
    measured (dropped between the two queries): unknown. -#}
{% macro _postgres_version(layout, stored_index, digests) -%}
  {%- set view = layout['definition'] is not none -%}
  {%- set version = {'definition': layout['definition']} if view else {} -%}
  {%- for part in layout['stored'] -%}
    {%- set index = stored_index[part['oid']] -%}
    {%- if index not in digests -%}
      {{ return(none) }}
    {%- endif -%}
    {%- set prefix = part['name'] ~ '.' if view else '' -%}
    {%- for field, text in part['fields'].items() | list + digests[index].items() | list -%}
      {%- do version.update({prefix ~ field: text}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(version) }}
{%- endmacro %}
