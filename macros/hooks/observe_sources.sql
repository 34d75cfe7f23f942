{#-
  on-run-start: measure the data version of every source the run's nodes read, before
  they read it (its loaded_at maximum and what one data_versions call reports), and keep
  it for record_run. Versions taken after the build could include data the build never
  saw, so record_run records none without this hook.

  Each step is a macro of its own (macros/internal/observations.sql), testable alone.
-#}

{% macro observe_sources(state_table=none) -%}
  {%- if orchestra_dbt._state_hooks_enabled() -%}
    {%- do orchestra_dbt.state_table_relation(state_table) -%}
    {%- set observed = orchestra_dbt._observe_run_sources() -%}
    {%- do orchestra_dbt.write_state_rows(state_table, [orchestra_dbt._observation_row(observed)]) -%}
  {%- endif -%}
  {{ return('') }}
{%- endmacro %}
