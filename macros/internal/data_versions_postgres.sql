{#- Private: the two queries of postgres__data_versions. -#}

{#- Which of the relations are tables (plain, partitioned or materialized views) of the
    current database, with their oid, relfilenode and a digest of their columns; views,
    foreign tables and missing relations are left out. One query for all relations. Names
    are matched as PostgreSQL stores them: as written when quoted, lower-cased when not. -#}
{% macro _postgres_catalog_sql(relations) -%}
  {%- set wanted = [] -%}
  {%- for relation in relations -%}
    {%- set database = orchestra_dbt.state_literal(relation.database) if relation.database else 'current_database()' -%}
    {%- set schema = orchestra_dbt.state_literal(orchestra_dbt._stored_identifier(relation.schema, relation.quote_policy.schema, 'lower')) if relation.schema else 'current_schema()' -%}
    {%- set name = orchestra_dbt.state_literal(orchestra_dbt._stored_identifier(relation.identifier, relation.quote_policy.identifier, 'lower')) -%}
    {%- do wanted.append('(' ~ loop.index0 ~ ', ' ~ database ~ ', ' ~ schema ~ ', ' ~ name ~ ')') -%}
  {%- endfor -%}
  {%- set sql -%}
select
    wanted.relation_position,
    cast(c.oid as text) as table_oid,
    cast(c.relfilenode as text) as relfilenode,
    md5(coalesce(string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' order by a.attnum), '')) as columns_digest
from (values
    {{ wanted | join(',\n    ') }}
) as wanted (relation_position, database_name, schema_name, table_name)
join pg_catalog.pg_namespace as n
  on n.nspname = wanted.schema_name
join pg_catalog.pg_class as c
  on c.relnamespace = n.oid and c.relname = wanted.table_name
left join pg_catalog.pg_attribute as a
  on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where wanted.database_name = current_database()
  and c.relkind in ('r', 'p', 'm')
group by wanted.relation_position, c.oid, c.relfilenode
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
