{#- Used by the hooks and by `orc` (through execute_macro). Append `rows` ([state_key,
    kind, last_updated, item]) in place of the node rows they write again (same key and
    time), delete the node rows of `removals` written at or before
    `removed_before`, drop the rows the new ones supersede (and, with `trusted_until`, the
    written keys' rows dated after it), and commit: one transaction
    where the warehouse has them. Only the keys written are touched, so writers of
    different nodes never wait for each other. Creates the table on first use. -#}

{% macro write_state_rows(state_table=none, rows=[], removals=[], removed_before=none, trusted_until=none) -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set removed_before = removed_before or orchestra_dbt._state_now() -%}
  {%- do orchestra_dbt.ensure_state_table(relation) -%}
  {%- set rewritten = [] -%}
  {%- for row in rows if row[1] == 'node' -%}
    {%- do rewritten.append(row[2] ~ row[0]) -%}
  {%- endfor -%}
  {%- for chunk in rewritten | unique | list | batch(200) -%}
    {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_rewrite_sql(relation, chunk)) -%}
  {%- endfor -%}
  {%- for chunk in rows | batch(200) -%}
    {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_insert_sql(relation, chunk)) -%}
  {%- endfor -%}
  {%- for chunk in removals | batch(200) -%}
    {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_delete_sql(relation, 'node', chunk, removed_before)) -%}
  {%- endfor -%}
  {%- set written = [] -%}
  {%- for row in rows if row[1] == 'node' -%}
    {%- do written.append(row[0]) -%}
  {%- endfor -%}
  {%- for chunk in written | unique | list | batch(200) -%}
    {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_compact_sql(relation, chunk, trusted_until)) -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
{%- endmacro %}
