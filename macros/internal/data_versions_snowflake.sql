{#- Private: how snowflake__data_versions measures views, through the objects they reference.
    Objects are keyed by their stored names: (database, schema, name). -#}

{#- {(database, schema, name): {'type', 'last_altered', 'rows', 'bytes'}} of the base tables
    and views among `relations`, one information_schema.tables query per database. -#}
{% macro _snowflake_metadata(relations) -%}
  {%- set databases = [] -%}
  {%- for relation in relations -%}
    {%- do databases.append(relation.information_schema('tables') | string) -%}
  {%- endfor -%}
  {%- set metadata = {} -%}
  {%- for group in orchestra_dbt._grouped_relations(relations, databases) -%}
    {%- set database = orchestra_dbt._snowflake_stored_key(group[0])[0] -%}
    {%- set found = orchestra_dbt._versions_by_name(
          run_query(orchestra_dbt._snowflake_tables_sql(group)), 'table_schema', 'table_name',
          {'type': 'table_type', 'last_altered': 'last_altered', 'rows': 'row_count', 'bytes': 'bytes'}) -%}
    {%- for pair, fields in found.items() -%}
      {%- do metadata.update({(database, pair[0], pair[1]): fields}) -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(metadata) }}
{%- endmacro %}


{#- (database, schema, name) of a relation as Snowflake stores them. -#}
{% macro _snowflake_stored_key(relation) -%}
  {%- set pair = orchestra_dbt._snowflake_stored_pair(relation) -%}
  {{ return((orchestra_dbt._stored_identifier(relation.database, relation.quote_policy.database, 'upper'), pair[0], pair[1])) }}
{%- endmacro %}


{#- A relation for a stored (database, schema, name) key: quoted, so it names exactly that. -#}
{% macro _snowflake_key_relation(key) -%}
  {{ return(api.Relation.create(database=key[0], schema=key[1], identifier=key[2],
      quote_policy={'database': true, 'schema': true, 'identifier': true})) }}
{%- endmacro %}


{#- A stored name as the argument get_object_references takes: in double quotes, so that
    it is matched exactly. -#}
{% macro _snowflake_quoted_name(name) -%}
  {{ return(orchestra_dbt.state_literal('"' ~ (name | replace('"', '""')) ~ '"')) }}
{%- endmacro %}


{#- One `union all` query of the objects each view (a key) references, from the
    get_object_references table function of the view's database. -#}
{% macro _snowflake_references_sql(keys) -%}
  {%- set parts = [] -%}
  {%- for key in keys -%}
    {%- do parts.append(
          'select database_name, schema_name, object_name, referenced_database_name, '
          ~ 'referenced_schema_name, referenced_object_name, referenced_object_type\n'
          ~ 'from table(' ~ orchestra_dbt._snowflake_key_relation(key).information_schema() ~ '.get_object_references('
          ~ 'database_name => ' ~ orchestra_dbt._snowflake_quoted_name(key[0])
          ~ ', schema_name => ' ~ orchestra_dbt._snowflake_quoted_name(key[1])
          ~ ', object_name => ' ~ orchestra_dbt._snowflake_quoted_name(key[2]) ~ '))') -%}
  {%- endfor -%}
  {{ return(parts | join('\nunion all\n')) }}
{%- endmacro %}


{#- {view key: [[key, type], ...]}: what each of `views` references, and each view it
    references in turn, one query per level of nesting (up to 8 levels; a view deeper
    than that is not in the answer, and whatever reads it stays unknown). -#}
{% macro _snowflake_references(views) -%}
  {%- set references = {} -%}
  {%- set queue = [] -%}
  {%- for key in views if key not in queue -%}
    {%- do queue.append(key) -%}
  {%- endfor -%}
  {%- set asked = [0] -%}
  {%- for level in range(8) -%}
    {%- set batch = queue[asked[-1]:] -%}
    {%- if batch -%}
      {%- do asked.append(queue | length) -%}
      {%- for key in batch -%}
        {%- do references.update({key: []}) -%}
      {%- endfor -%}
      {%- set found = run_query(orchestra_dbt._snowflake_references_sql(batch)) -%}
      {%- set names = found.column_names | map('lower') | list -%}
      {%- for row in found.rows -%}
        {%- set viewer = (row[names.index('database_name')], row[names.index('schema_name')], row[names.index('object_name')]) -%}
        {%- set read = (row[names.index('referenced_database_name')], row[names.index('referenced_schema_name')], row[names.index('referenced_object_name')]) -%}
        {%- set kind = row[names.index('referenced_object_type')] | upper -%}
        {%- do references.setdefault(viewer, []).append([read, kind]) -%}
        {%- if kind == 'VIEW' and read not in queue -%}
          {%- do queue.append(read) -%}
        {%- endif -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(references) }}
{%- endmacro %}


{#- Every object a view reads, through the views under it, into `closure` ([[key, type]]).
    False when a view under it was not asked (too deep). -#}
{% macro _snowflake_closure(key, references, closure) -%}
  {%- if key not in references -%}
    {{ return(false) }}
  {%- endif -%}
  {%- for entry in references[key] if entry not in closure -%}
    {%- do closure.append(entry) -%}
    {%- if entry[1] == 'VIEW' and not orchestra_dbt._snowflake_closure(entry[0], references, closure) -%}
      {{ return(false) }}
    {%- endif -%}
  {%- endfor -%}
  {{ return(true) }}
{%- endmacro %}


{#- {view key: version} for views (keys) whose own metadata is in `metadata`: the view's
    last_altered, and the fields of every table and view it reads (through views under
    it), named after it: `ANALYTICS.RAW.ORDERS.last_altered`. A view left out is unknown:
    it reads an object of another type (get_object_references fails outright on views
    over materialized views, stages and functions), an object whose metadata cannot be
    read, or views nested deeper than _snowflake_references asks. -#}
{% macro _snowflake_view_versions(views, metadata) -%}
  {%- set references = orchestra_dbt._snowflake_references(views) -%}
  {%- set closures = {} -%}
  {%- set unread = [] -%}
  {%- for key in views -%}
    {%- set closure = [] -%}
    {%- if orchestra_dbt._snowflake_closure(key, references, closure) -%}
      {%- do closures.update({key: closure}) -%}
      {%- for entry in closure if entry[0] not in metadata and entry[0] not in unread -%}
        {%- do unread.append(entry[0]) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if unread -%}
    {%- set relations = [] -%}
    {%- for key in unread -%}
      {%- do relations.append(orchestra_dbt._snowflake_key_relation(key)) -%}
    {%- endfor -%}
    {%- do metadata.update(orchestra_dbt._snowflake_metadata(relations)) -%}
  {%- endif -%}
  {%- set versions = {} -%}
  {%- for key, closure in closures.items() -%}
    {%- set version = {'last_altered': metadata[key]['last_altered']} -%}
    {%- set known = [] -%}
    {%- for entry in closure -%}
      {%- set found = metadata.get(entry[0]) -%}
      {%- set expected = 'BASE TABLE' if entry[1] == 'TABLE' else entry[1] -%}
      {%- if found is none or found['type'] != expected -%}
        {%- do known.append(false) -%}
      {%- else -%}
        {%- for field, text in found.items() if field != 'type' and text != '' -%}
          {%- do version.update({entry[0] | join('.') ~ '.' ~ field: text}) -%}
        {%- endfor -%}
      {%- endif -%}
    {%- endfor -%}
    {%- if false not in known -%}
      {%- do versions.update({key: version}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}
