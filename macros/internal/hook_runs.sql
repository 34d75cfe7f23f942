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


{#- {unique_id: relation} of what a view's SQL names: each model, seed and snapshot it
    reads, looking through ephemeral models as `orc` does (its `named_relations`). None
    when dbt may read one of them from another target (`--defer`): the hook cannot tell
    which relation the view then names, and `orc` creates such a view again. -#}
{% macro _named_relations(node) -%}
  {%- set queue = [] -%}
  {%- do queue.extend(node.depends_on.nodes) -%}
  {%- set seen = {} -%}
  {%- set named = {} -%}
  {%- for parent_id in queue -%}
    {%- set parent = graph.nodes.get(parent_id) -%}
    {%- if parent is not none and parent_id not in seen
          and parent.resource_type in ('model', 'seed', 'snapshot') -%}
      {%- do seen.update({parent_id: true}) -%}
      {%- if parent.get('defer_relation') -%}
        {{ return(none) }}
      {%- elif parent.config.materialized == 'ephemeral' -%}
        {%- do queue.extend(parent.depends_on.nodes) -%}
      {%- elif parent.relation_name -%}
        {%- do named.update({parent_id: parent.relation_name}) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(named) }}
{%- endmacro %}


{#- Whether a node's relation stores data (a table, not a view), as `orc` decides
    (its `holds_data`): a model, seed or snapshot not materialized as a view or ephemeral. -#}
{% macro _holds_data(node) -%}
  {{ return(node.resource_type in ('model', 'seed', 'snapshot')
            and node.config.materialized not in ('view', 'ephemeral')) }}
{%- endmacro %}


{#- The data version of each relation, from one call of data_versions: {unique_id: {field:
    text}} for `relations` ({unique_id: relation}), an empty version where the warehouse
    reports none; none when the call gave no answer to read. Values are kept as text and
    empty values are left out, as `orc` reads them (its Warehouse.data_versions); relations
    that render alike (on DuckDB, two sources of one file) all get the version, as in orc. -#}
{% macro _relation_versions(relations) -%}
  {%- set owners = {} -%}
  {%- set versions = {} -%}
  {%- for unique_id, relation in relations.items() -%}
    {%- do owners.setdefault(relation.render(), []).append(unique_id) -%}
    {%- do versions.update({unique_id: {}}) -%}
  {%- endfor -%}
  {%- if not relations -%}
    {{ return(versions) }}
  {%- endif -%}
  {%- set found = orchestra_dbt.data_versions(relations.values() | list) -%}
  {%- if found is not mapping -%}
    {{ return(none) }}
  {%- endif -%}
  {%- for rendered, version in found.items() -%}
    {%- if version is mapping -%}
      {%- set fields = {} -%}
      {%- for field, value in version.items() if value is not none -%}
        {%- do fields.update({field | string: value | string}) -%}
      {%- endfor -%}
      {%- for owner in owners.get(rendered | string, []) -%}
        {%- do versions.update({owner: fields}) -%}
      {%- endfor -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}
