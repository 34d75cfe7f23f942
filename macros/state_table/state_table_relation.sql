{#-
  The warehouse state table, shared by `orc` (state_file = "warehouse:<schema>.<table>")
  and by the hooks (macros/hooks/) for runs that cannot be wrapped in `orc`:

    on-run-start: "{{ orchestra_dbt.observe_sources() }}"
    on-run-end:   "{{ orchestra_dbt.record_run(results) }}"
    vars:
      orchestra_state_table: "<schema>.<table>"   # or "<database>.<schema>.<table>"

  One row per state key holds one item of the state document (DESIGN §3) as JSON text.
  A write appends rows and then deletes the rows a newer row of the same key supersedes,
  in one transaction: concurrent writers never overwrite each other, and a reader takes
  the newest row of each key (the merge rule of every backend). `last_updated` is kept
  as fixed-width UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ, the year always four digits:
  `_state_time`), so text order is time order.
  Rows of kind 'observation' hold the source freshness `observe_sources` measured at the
  start of a run, keyed by the invocation id, until `record_run` uses them.

  This folder: the table's relation, one macro per SQL statement (dispatched, so each
  warehouse gets its dialect), and reading and writing its rows.
-#}

{% macro state_table_relation(state_table=none) -%}
  {%- set name = state_table or var('orchestra_state_table', none) -%}
  {%- if not name -%}
    {{ exceptions.raise_compiler_error("orchestra_dbt: no state table configured: set the var orchestra_state_table to '<schema>.<table>' (the table orc reads with state_file = 'warehouse:<schema>.<table>')") }}
  {%- endif -%}
  {%- set parts = name.split('.') -%}
  {%- if parts | length == 2 and parts[0] and parts[1] -%}
    {{ return(api.Relation.create(database=target.database, schema=parts[0], identifier=parts[1], type='table')) }}
  {%- elif parts | length == 3 and parts[0] and parts[1] and parts[2] -%}
    {{ return(api.Relation.create(database=parts[0], schema=parts[1], identifier=parts[2], type='table')) }}
  {%- endif -%}
  {{ exceptions.raise_compiler_error("orchestra_dbt: the state table '" ~ name ~ "' is not '<schema>.<table>' or '<database>.<schema>.<table>'") }}
{%- endmacro %}
