{#- Private helpers shared by the variants of data_versions. -#}

{#- The relations, each once (by its rendered name), in the order given. -#}
{% macro _distinct_relations(relations) -%}
  {%- set seen = {} -%}
  {%- set distinct = [] -%}
  {%- for relation in relations or [] -%}
    {%- set key = relation.render() -%}
    {%- if key not in seen -%}
      {%- do seen.update({key: true}) -%}
      {%- do distinct.append(relation) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(distinct) }}
{%- endmacro %}


{#- {rendered name: {}} for every relation, i.e. every version unknown; {} at parse time. -#}
{% macro _unknown_versions(relations) -%}
  {%- set versions = {} -%}
  {%- if not execute -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- for relation in relations or [] -%}
    {%- do versions.update({relation.render(): {}}) -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}


{#- A value of a version field as text, so that two versions compare exactly: none is '',
    a datetime its ISO-8601 text, anything else its text. The queries already cast what
    they can to text in SQL, so the driver's number and time types play no part. -#}
{% macro _version_text(value) -%}
  {%- if value is none -%}
    {{ return('') }}
  {%- elif value is string -%}
    {{ return(value) }}
  {%- elif value.isoformat is defined -%}
    {{ return(value.isoformat()) }}
  {%- endif -%}
  {{ return(value | string) }}
{%- endmacro %}


{#- [{field: text}, ...], one per row of a query result, in its order: `fields` maps each
    version field to its column (column names compared case-insensitively). One call per
    result, not one per row: macro calls are most of what measuring costs in Python. -#}
{% macro _rows_versions(table, fields) -%}
  {%- set names = table.column_names | map('lower') | list -%}
  {%- set columns = [] -%}
  {%- for field, column in fields.items() -%}
    {%- do columns.append([field, names.index(column | lower)]) -%}
  {%- endfor -%}
  {%- set versions = [] -%}
  {%- for row in table.rows -%}
    {%- set version = {} -%}
    {%- for field, index in columns -%}
      {%- set value = row[index] -%}
      {#- Most values are text already (the queries cast them): no macro call for those. -#}
      {%- do version.update({field: value if value is string else orchestra_dbt._version_text(value)}) -%}
    {%- endfor -%}
    {%- do versions.append(version) -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}


{#- {position: {field: text}} from a result whose column `relation_position` is the
    relation's index in the list the SQL was rendered from; `fields` maps each version
    field to its column (column names compared case-insensitively). -#}
{% macro _versions_by_position(table, fields) -%}
  {%- set position = (table.column_names | map('lower') | list).index('relation_position') -%}
  {%- set versions = orchestra_dbt._rows_versions(table, fields) -%}
  {%- set found = {} -%}
  {%- for row in table.rows -%}
    {%- do found.update({(row[position] | int): versions[loop.index0]}) -%}
  {%- endfor -%}
  {{ return(found) }}
{%- endmacro %}


{#- {(schema, table): {field: text}} from a metadata result, keyed by the stored names in
    the columns `schema_column` (none when the query is of one schema) and `name_column`. -#}
{% macro _versions_by_name(table, schema_column, name_column, fields) -%}
  {%- set names = table.column_names | map('lower') | list -%}
  {%- set versions = orchestra_dbt._rows_versions(table, fields) -%}
  {%- set found = {} -%}
  {%- for row in table.rows -%}
    {%- set schema = row[names.index(schema_column | lower)] if schema_column else none -%}
    {%- do found.update({(schema, row[names.index(name_column | lower)]): versions[loop.index0]}) -%}
  {%- endfor -%}
  {{ return(found) }}
{%- endmacro %}


{#- An identifier as the warehouse stores it: folded to 'upper' or 'lower' case unless
    quoted; `fold` none keeps it. Databricks' Unity Catalog folds even quoted names, so
    its callers pass quoted=false. -#}
{% macro _stored_identifier(name, quoted, fold) -%}
  {%- if name is none or quoted or fold is none -%}
    {{ return(name) }}
  {%- elif fold == 'upper' -%}
    {{ return(name | upper) }}
  {%- endif -%}
  {{ return(name | lower) }}
{%- endmacro %}


{#- `where` conditions matching stored (schema, table) names, one group per schema:
    (schema_column = 'S' and name_column in ('A', 'B')) or (...). `names` is a list of
    [schema, table] pairs, already as stored. Literals are the package's state_literal,
    which escapes backslashes too on the warehouses where they escape. -#}
{% macro _stored_name_conditions(names, schema_column, name_column) -%}
  {%- set by_schema = {} -%}
  {%- for pair in names -%}
    {%- if pair[0] not in by_schema -%}
      {%- do by_schema.update({pair[0]: []}) -%}
    {%- endif -%}
    {%- if pair[1] not in by_schema[pair[0]] -%}
      {%- do by_schema[pair[0]].append(pair[1]) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set conditions = [] -%}
  {%- for schema, tables in by_schema.items() -%}
    {%- do conditions.append('(' ~ schema_column ~ ' = ' ~ orchestra_dbt.state_literal(schema)
          ~ ' and ' ~ name_column ~ ' in (' ~ orchestra_dbt._state_literals(tables) ~ '))') -%}
  {%- endfor -%}
  {{ return(conditions | join('\n       or ')) }}
{%- endmacro %}


{#- The same {position: {field: text}}, without the fields whose text is empty (a column
    that only some relations have, such as a view's definition). -#}
{% macro _without_empty_fields(found) -%}
  {%- set kept = {} -%}
  {%- for position, fields in found.items() -%}
    {%- set version = {} -%}
    {%- for field, text in fields.items() if text != '' -%}
      {%- do version.update({field: text}) -%}
    {%- endfor -%}
    {%- do kept.update({position: version}) -%}
  {%- endfor -%}
  {{ return(kept) }}
{%- endmacro %}


{#- [[position, relation], ...] for the given positions of `relations`, in order. -#}
{% macro _positioned(relations, positions) -%}
  {%- set entries = [] -%}
  {%- for position in positions | sort -%}
    {%- do entries.append([position, relations[position]]) -%}
  {%- endfor -%}
  {{ return(entries) }}
{%- endmacro %}


{#- {rendered name: fields of `first` and `second`} for the positions both know: a relation
    whose second query found nothing (dropped in between) stays unknown. -#}
{% macro _merged_versions(relations, first, second) -%}
  {%- set merged = {} -%}
  {%- for position, fields in first.items() if position in second -%}
    {%- set version = {} -%}
    {%- do version.update(fields) -%}
    {%- do version.update(second[position]) -%}
    {%- do merged.update({relations[position].render(): version}) -%}
  {%- endfor -%}
  {{ return(merged) }}
{%- endmacro %}


{#- The relations in groups that share a key (`keys` is parallel to `relations`), in the
    order each key first appears: one metadata query per group. -#}
{% macro _grouped_relations(relations, keys) -%}
  {%- set groups = {} -%}
  {%- set order = [] -%}
  {%- for relation in relations -%}
    {%- set key = keys[loop.index0] -%}
    {%- if key not in groups -%}
      {%- do groups.update({key: []}) -%}
      {%- do order.append(key) -%}
    {%- endif -%}
    {%- do groups[key].append(relation) -%}
  {%- endfor -%}
  {%- set grouped = [] -%}
  {%- for key in order -%}
    {%- do grouped.append(groups[key]) -%}
  {%- endfor -%}
  {{ return(grouped) }}
{%- endmacro %}
