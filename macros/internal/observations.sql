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


{#- {source unique_id: its data version} for the run's sources: `loaded_at` (its
    source_freshness maximum, when measured) with the fields one data_versions call reports
    for all of them; {} for a source that cannot be measured. -#}
{% macro _observe_run_sources() -%}
  {%- set loaded = {} -%}
  {%- set asked = {} -%}
  {%- for source_id, relation in orchestra_dbt._run_source_relations().items() -%}
    {%- set source_node = graph.sources[source_id] -%}
    {%- do loaded.update({source_id: orchestra_dbt._observe_source(source_node, relation)}) -%}
    {%- if relation is not none and orchestra_dbt._source_versioned(source_node) -%}
      {%- do asked.update({source_id: relation}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set measured = orchestra_dbt._relation_versions(asked) or {} -%}
  {%- set observed = {} -%}
  {%- for source_id, loaded_at in loaded.items() -%}
    {%- do observed.update({source_id: orchestra_dbt._source_version(loaded_at, measured.get(source_id, {}))}) -%}
  {%- endfor -%}
  {{ return(observed) }}
{%- endmacro %}


{#- {source unique_id: its relation, or none when it does not exist} for the run's
    sources. A source with an external location (DuckDB files) counts as existing. -#}
{% macro _run_source_relations() -%}
  {%- set relations = {} -%}
  {%- for source_id in orchestra_dbt._run_source_ids() -%}
    {%- set source_node = graph.sources[source_id] -%}
    {%- set relation = source(source_node.source_name, source_node.name) -%}
    {%- set external = relation.external is defined and relation.external -%}
    {%- if not external and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
      {%- set relation = none -%}
    {%- endif -%}
    {%- do relations.update({source_id: relation}) -%}
  {%- endfor -%}
  {{ return(relations) }}
{%- endmacro %}


{#- One source's freshness (source_freshness) as the text of a version's `loaded_at`;
    none when its relation does not exist (`relation` none) or it cannot be measured. -#}
{% macro _observe_source(source_node, relation) -%}
  {%- if relation is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set freshness = source_node.freshness or {} -%}
  {%- set value = orchestra_dbt.source_freshness(
        relation,
        loaded_at_field=source_node.loaded_at_field,
        loaded_at_query=source_node.get('loaded_at_query'),
        filter=freshness.get('filter'),
        external_location=relation.external if relation.external is defined else none) -%}
  {{ return(orchestra_dbt._loaded_at_text(value)) }}
{%- endmacro %}


{#- A time from source_freshness as `orc` writes it (its format_timestamp), by _state_time:
    `2024-05-06T07:30:00Z`, a four-digit year, `.ffffff` only when the microseconds are not
    zero; naive times are UTC. Text is read as ISO-8601 (orc's parse_timestamp); none for
    anything else, which leaves the source unmeasured as orc leaves it. -#}
{% macro _loaded_at_text(value) -%}
  {%- if value is string -%}
    {%- set value = orchestra_dbt._parse_time(value) -%}
  {%- endif -%}
  {%- if value is none or value.hour is not defined or value.tzinfo is not defined -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(orchestra_dbt._state_time(value, fixed=false)) }}
{%- endmacro %}


{#- An ISO-8601 date-time text as a datetime (naive when it has no offset), digits past
    the microseconds ignored; none when it is not one. -#}
{% macro _parse_time(text) -%}
  {%- set match = modules.re.fullmatch(
        '(\\d{4}-\\d\\d-\\d\\d)[T ](\\d\\d:\\d\\d)(:\\d\\d)?(?:\\.(\\d+))?([Zz]|[+-]\\d\\d:?\\d\\d)?',
        text | trim) -%}
  {%- if match is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set fraction = ((match.group(4) or '') ~ '000000')[:6] -%}
  {%- set offset = match.group(5) or '' -%}
  {%- set offset = '+0000' if offset in ('', 'Z', 'z') else offset.replace(':', '') -%}
  {%- set normal = match.group(1) ~ 'T' ~ match.group(2) ~ (match.group(3) or ':00') ~ '.' ~ fraction ~ offset -%}
  {%- set value = modules.datetime.datetime.strptime(normal, '%Y-%m-%dT%H:%M:%S.%f%z') -%}
  {{ return(value if match.group(5) else value.replace(tzinfo=none)) }}
{%- endmacro %}


{#- Whether data_versions is asked for a source: not when it opts out with
    `meta: {orchestra_dbt: {data_version: false}}` (orc asks the same sources). -#}
{% macro _source_versioned(source_node) -%}
  {%- set settings = (source_node.meta or {}).get('orchestra_dbt') or {} -%}
  {{ return(not (settings is mapping and settings.get('data_version') is false)) }}
{%- endmacro %}


{#- A source's version: what the warehouse reports, with `loaded_at` when it was
    measured (orc's source_version). -#}
{% macro _source_version(loaded_at, measured) -%}
  {%- set version = dict(measured or {}) -%}
  {%- if loaded_at is not none -%}
    {%- do version.update({'loaded_at': loaded_at}) -%}
  {%- endif -%}
  {{ return(version) }}
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
