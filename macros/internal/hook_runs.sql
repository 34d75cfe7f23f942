{#- Private helpers shared by the hooks observe_sources and record_run. -#}

{#- Whether the hooks record this run: not at parse time, and not inside a run `orc`
    drives (orc records those itself). -#}
{% macro _state_hooks_enabled() -%}
  {{ return(execute and not orchestra_dbt._orc_records_this_run()) }}
{%- endmacro %}

{#- `orc` records the runs it drives itself (with its own, finer fingerprint) and tells the
    hooks so through this environment variable, set only inside its process. -#}
{% macro _orc_records_this_run() -%}
  {{ return(env_var('ORCHESTRA_DBT_RECORDER', '') == 'orc') }}
{%- endmacro %}


{#- The nodes (sources included) whose data a node reads, looking through views and
    ephemeral models as `orc` does (its `data_inputs`). -#}
{% macro _data_inputs(unique_id) -%}
  {%- set node = graph.nodes.get(unique_id) -%}
  {%- set queue = [] -%}
  {%- set seen = {} -%}
  {%- set inputs = [] -%}
  {%- if node is not none -%}
    {%- do queue.extend(node.depends_on.nodes) -%}
  {%- endif -%}
  {%- for parent_id in queue -%}
    {%- if parent_id not in seen -%}
      {%- do seen.update({parent_id: true}) -%}
      {%- set parent = graph.nodes.get(parent_id) -%}
      {%- if parent is not none -%}
        {%- if parent.config.materialized != 'ephemeral' -%}
          {%- do inputs.append(parent_id) -%}
        {%- endif -%}
        {%- if parent.resource_type == 'model' and parent.config.materialized in ('view', 'ephemeral') -%}
          {%- do queue.extend(parent.depends_on.nodes) -%}
        {%- endif -%}
      {%- elif parent_id in graph.sources -%}
        {%- do inputs.append(parent_id) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(inputs) }}
{%- endmacro %}
