{#- Private: the source observations of a run, which observe_sources measures and keeps in
    the state table (kind 'observation', keyed by the invocation id) and record_run uses. -#}

{#- The sources the run's selected nodes read (through views and ephemeral models), sorted. -#}
{% macro _run_source_ids() -%}
  {%- set selected = selected_resources if selected_resources is defined and selected_resources else graph.nodes.keys() | list -%}
  {%- set wanted = {} -%}
  {%- for unique_id in selected -%}
    {%- for input_id in orchestra_dbt._data_inputs(unique_id) -%}
      {%- if input_id in graph.sources -%}
        {%- do wanted.update({input_id: true}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {{ return(wanted | sort) }}
{%- endmacro %}


{#- {source unique_id: its freshness as fixed-width UTC text, or none} for the run's sources. -#}
{% macro _observe_run_sources() -%}
  {%- set observed = {} -%}
  {%- for source_id in orchestra_dbt._run_source_ids() -%}
    {%- do observed.update({source_id: orchestra_dbt._observe_source(graph.sources[source_id])}) -%}
  {%- endfor -%}
  {{ return(observed) }}
{%- endmacro %}


{#- One source's freshness (source_freshness) as fixed-width UTC text; none when its
    relation does not exist or it cannot be measured. -#}
{% macro _observe_source(source_node) -%}
  {%- set relation = source(source_node.source_name, source_node.name) -%}
  {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none
        and not (relation.external is defined and relation.external) -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set freshness = source_node.freshness or {} -%}
  {%- set value = orchestra_dbt.source_freshness(
        relation,
        loaded_at_field=source_node.loaded_at_field,
        loaded_at_query=source_node.get('loaded_at_query'),
        filter=freshness.get('filter'),
        external_location=relation.external if relation.external is defined else none) -%}
  {%- if value is none or value == '' -%}
    {{ return(none) }}
  {%- elif value is string -%}
    {{ return(value) }}
  {%- endif -%}
  {{ return(orchestra_dbt._state_time(value)) }}
{%- endmacro %}


{#- The state table row that keeps this invocation's observations. -#}
{% macro _observation_row(observed) -%}
  {{ return([invocation_id, 'observation', orchestra_dbt._state_now(), tojson(observed, sort_keys=true)]) }}
{%- endmacro %}


{#- What observe_sources kept for this invocation (its newest row); {} when nothing was. -#}
{% macro _run_observation(state_table=none) -%}
  {%- set observations = orchestra_dbt.read_state_rows(state_table, 'observation', [invocation_id]) or [] -%}
  {{ return(fromjson(observations[-1][2]) if observations else {}) }}
{%- endmacro %}


{#- This run's observation is used; those of runs that died before their end are dropped
    after a day. Commits. -#}
{% macro _drop_observations(state_table, now) -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {%- set day_ago = modules.datetime.datetime.utcnow() - modules.datetime.timedelta(days=1) -%}
  {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_delete_sql(relation, 'observation', [invocation_id], now)) -%}
  {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_delete_sql(relation, 'observation', none, orchestra_dbt._state_time(day_ago))) -%}
  {%- do adapter.commit() -%}
{%- endmacro %}
