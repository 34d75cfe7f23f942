{#-
  on-run-end: record every node the run built (and every test it ran) into the state
  table, in the shape `orc` writes; for the ones that failed or were skipped, record only
  that, so they are rebuilt.

  Each step is a macro of its own, testable alone: the run's outcome per node
  (macros/internal/run_records.sql), the observation observe_sources kept
  (macros/internal/observations.sql), the data versions of the tables the run built (one
  data_versions call), the rows to write, then writing them and dropping the observations
  that are no longer needed.
-#}

{% macro record_run(results, state_table=none) -%}
  {%- if orchestra_dbt._state_hooks_enabled() -%}
    {%- do orchestra_dbt.state_table_relation(state_table) -%}
    {%- set now = orchestra_dbt._state_now() -%}
    {%- set outcome = orchestra_dbt._run_outcomes(results, now) -%}
    {%- set observed = orchestra_dbt._run_observation(state_table) -%}
    {%- set table_versions = orchestra_dbt._table_versions(outcome.finished) -%}
    {%- set rows = orchestra_dbt._node_records(outcome.finished, observed, table_versions, state_table)
                   + orchestra_dbt._failed_records(outcome.failed) -%}
    {%- do orchestra_dbt.write_state_rows(state_table, rows, outcome.removed, now) -%}
    {%- do orchestra_dbt._drop_observations(state_table, now) -%}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}
