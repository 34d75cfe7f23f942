{#- Private: the state table rows record_run writes for a run. -#}

{#- What the run did, from dbt's `results`:
      finished: {unique_id: {status, last_updated, execution_time}} of every model, seed
                and snapshot built and every data test run (pass, warn or fail);
      failed:   the same of the others: builds that failed or were skipped, data tests
                that errored before giving a result or were skipped;
      removed:  the state keys to forget: every node of a run of partial data.
    Unit tests (dbt's `graph` does not hold them) and nodes that are not in the graph are
    left out. -#}
{% macro _run_outcomes(results, now) -%}
  {#- --empty, --sample and --event-time-* build partial data: never reusable. -#}
  {%- set args = invocation_args_dict or {} -%}
  {%- set partial = args.get('empty') or args.get('sample') or args.get('event_time_start') or args.get('event_time_end') -%}
  {%- set account = orchestra_dbt._state_account() -%}
  {%- set finished = {} -%}
  {%- set failed = {} -%}
  {%- set removed = [] -%}
  {%- for result in results -%}
    {%- set node = graph.nodes.get(result.node.unique_id) -%}
    {%- if node is not none and node.resource_type in ('model', 'seed', 'snapshot', 'test') -%}
      {%- set status = result.status | string -%}
      {%- set passed = status in ('pass', 'warn', 'fail') if node.resource_type == 'test' else status == 'success' -%}
      {%- set completed = result.timing[-1].completed_at if result.timing else none -%}
      {%- set done = {
            'status': status,
            'last_updated': orchestra_dbt._state_time(completed) if completed else now,
            'execution_time': result.execution_time} -%}
      {%- if partial -%}
        {%- do removed.extend(orchestra_dbt._state_keys(node, account)) -%}
      {%- else -%}
        {%- do (finished if passed else failed).update({node.unique_id: done}) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return({'finished': finished, 'failed': failed, 'removed': removed}) }}
{%- endmacro %}


{#- The state rows (`_state_entries`) of every node whose build did not succeed:
    `_failed_item`. -#}
{% macro _failed_records(failed) -%}
  {%- set account = orchestra_dbt._state_account() -%}
  {%- set rows = [] -%}
  {%- for unique_id, done in failed.items() -%}
    {%- set node = graph.nodes[unique_id] -%}
    {%- do rows.extend(orchestra_dbt._state_entries(node, account, orchestra_dbt._failed_item(node, done))) -%}
  {%- endfor -%}
  {{ return(rows) }}
{%- endmacro %}


{#- The state item of a build that did not succeed, in the shape `orc` writes (its
    finished_record): only the outcome, with no fingerprint, checksum or version, so that
    nothing reuses it; being the newest row of its key, it supersedes the last good one. -#}
{% macro _failed_item(node, done) -%}
  {{ return({
        'last_updated': done.last_updated,
        'checksum': '',
        'sources': {},
        'relation': node.relation_name,
        'status': done.status,
        'execution_time': done.execution_time,
        'recorded_by': 'orchestra_dbt.record_run'}) }}
{%- endmacro %}


{#- The state rows (`_state_entries`) of every finished node; `table_versions`
    is what _table_versions measured (none: leave the tables' versions out). -#}
{% macro _node_records(finished, observed, table_versions, state_table=none) -%}
  {%- set inputs_of = {} -%}
  {%- for unique_id in finished -%}
    {%- do inputs_of.update({unique_id: orchestra_dbt._data_inputs(unique_id)}) -%}
  {%- endfor -%}
  {%- set versions = orchestra_dbt._input_versions(finished, inputs_of, state_table) -%}
  {%- set fingerprints = orchestra_dbt.hook_fingerprints(finished.keys() | list) -%}
  {%- set account = orchestra_dbt._state_account() -%}
  {%- set rows = [] -%}
  {%- for unique_id, done in finished.items() -%}
    {%- set node = graph.nodes[unique_id] -%}
    {%- set item = orchestra_dbt._node_item(node, done, inputs_of[unique_id], observed, versions, fingerprints.get(unique_id)) -%}
    {%- do orchestra_dbt._add_table_version(item, node, table_versions) -%}
    {%- do rows.extend(orchestra_dbt._state_entries(node, account, item)) -%}
  {%- endfor -%}
  {{ return(rows) }}
{%- endmacro %}


{#- {unique_id: data version} of the finished nodes whose relations hold data (tables,
    seeds, snapshots; not views), measured by one data_versions call right after the run,
    {} where the warehouse reports nothing; none when the call gave no answer. -#}
{% macro _table_versions(finished) -%}
  {%- set relations = {} -%}
  {%- for unique_id in finished -%}
    {%- set node = graph.nodes[unique_id] -%}
    {%- if orchestra_dbt._holds_data(node) -%}
      {%- do relations.update({unique_id: orchestra_dbt._node_relation(node)}) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(orchestra_dbt._relation_versions(relations)) }}
{%- endmacro %}


{#- The relation of a graph node, as a table: its database, schema and alias, quoted as
    the adapter quotes by default. -#}
{% macro _node_relation(node) -%}
  {{ return(api.Relation.create(database=node.database, schema=node.schema,
                                identifier=node.alias or node.name, type='table')) }}
{%- endmacro %}


{#- Adds `version` to a node's item: the data version of its table after the build, for
    a node whose relation holds data ({} where the warehouse reported none). Left out when
    the tables could not be measured (`table_versions` none), so `orc` rebuilds them. -#}
{% macro _add_table_version(item, node, table_versions) -%}
  {%- if table_versions is mapping and orchestra_dbt._holds_data(node) -%}
    {%- do item.update({'version': table_versions.get(node.unique_id) or {}}) -%}
  {%- endif -%}
{%- endmacro %}


{#- {unique_id: last_updated} of the finished nodes' inputs: the time of each node the
    run finished, and for the inputs it did not build, the newest time the table holds. -#}
{% macro _input_versions(finished, inputs_of, state_table=none) -%}
  {%- set account = orchestra_dbt._state_account() -%}
  {%- set versions = {} -%}
  {%- set outside = {} -%}
  {%- for unique_id, done in finished.items() -%}
    {%- do versions.update({unique_id: done.last_updated}) -%}
    {%- for input_id in inputs_of[unique_id] -%}
      {%- if input_id in graph.nodes and input_id not in finished -%}
        {%- do outside.update({orchestra_dbt._state_key(graph.nodes[input_id], account): input_id}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- for row in (orchestra_dbt.read_state_rows(state_table, 'node', outside.keys() | list) or []) -%}
    {%- do versions.update({outside[row[0]]: fromjson(row[2]).get('last_updated')}) -%}
  {%- endfor -%}
  {{ return(versions) }}
{%- endmacro %}


{#- The state item of one finished node, in the shape `orc` writes (its finished_record).
    `observed` holds the data version of each source observed at the start of the run:
    its `loaded_at` goes to `sources`, the version itself to `data_versions`; sources
    without a `loaded_at` go to `unmeasured_sources`. Inputs without a known time are left
    out of `upstream`. A view's item names the relations its SQL named (`_named_relations`). -#}
{% macro _node_item(node, done, inputs, observed, versions, fingerprint) -%}
  {%- set sources = {} -%}
  {%- set data_versions = {} -%}
  {%- set unmeasured = [] -%}
  {%- set upstream = {} -%}
  {%- for input_id in inputs -%}
    {%- if input_id in graph.sources -%}
      {%- set version = observed.get(input_id) -%}
      {%- set version = version if version is mapping else {} -%}
      {%- if version.get('loaded_at') -%}
        {%- do sources.update({input_id: version['loaded_at']}) -%}
      {%- else -%}
        {%- do unmeasured.append(input_id) -%}
      {%- endif -%}
      {%- if version -%}
        {%- do data_versions.update({input_id: version}) -%}
      {%- endif -%}
    {%- elif versions.get(input_id) -%}
      {%- do upstream.update({input_id: versions[input_id]}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set item = {
        'last_updated': done.last_updated,
        'checksum': node.checksum.checksum if node.checksum else '',
        'sources': sources,
        'data_versions': data_versions,
        'upstream': upstream,
        'fingerprint': fingerprint,
        'relation': node.relation_name,
        'status': done.status,
        'execution_time': done.execution_time,
        'recorded_by': 'orchestra_dbt.record_run'} -%}
  {%- if unmeasured -%}
    {%- do item.update({'unmeasured_sources': unmeasured | sort}) -%}
  {%- endif -%}
  {%- if node.resource_type == 'model' and node.config.materialized == 'view' -%}
    {%- set named = orchestra_dbt._named_relations(node) -%}
    {%- if named is not none -%}
      {%- do item.update({'parent_relations': named}) -%}
    {%- endif -%}
  {%- endif -%}
  {{ return(item) }}
{%- endmacro %}
