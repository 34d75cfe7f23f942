{#-
  The warehouse state table, shared by `orc` (state_file = "warehouse:<schema>.<table>")
  and by the hooks below for runs that cannot be wrapped in `orc`:

    on-run-start: "{{ orchestra_dbt.observe_sources() }}"
    on-run-end:   "{{ orchestra_dbt.record_run(results) }}"
    vars:
      orchestra_state_table: "<schema>.<table>"   # or "<database>.<schema>.<table>"

  One row per state key holds one item of the state document (DESIGN §3) as JSON text.
  A write appends rows and then deletes the rows a newer row of the same key supersedes,
  in one transaction: concurrent writers never overwrite each other, and a reader takes
  the newest row of each key (the merge rule of every backend). `last_updated` is kept
  as fixed-width UTC text (YYYY-MM-DDTHH:MM:SS.ffffffZ), so text order is time order.
  Rows of kind 'observation' hold the source freshness `observe_sources` measured at the
  start of a run, keyed by the invocation id, until `record_run` uses them.
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


{#- --- SQL, one statement per macro; dispatched so each warehouse gets its dialect --- -#}

{% macro state_text_type() -%}
  {{ return(adapter.dispatch('state_text_type', 'orchestra_dbt')()) }}
{%- endmacro %}

{% macro default__state_text_type() -%}
  {{ return('text') }}
{%- endmacro %}

{% macro snowflake__state_text_type() -%}
  {{ return('varchar') }}
{%- endmacro %}

{% macro bigquery__state_text_type() -%}
  {{ return('string') }}
{%- endmacro %}

{% macro databricks__state_text_type() -%}
  {{ return('string') }}
{%- endmacro %}

{% macro spark__state_text_type() -%}
  {{ return('string') }}
{%- endmacro %}


{#- A SQL string literal. PostgreSQL, DuckDB and the SQL standard double the quote;
    Snowflake, BigQuery and Databricks also treat the backslash as an escape. -#}
{% macro state_literal(text) -%}
  {{ return(adapter.dispatch('state_literal', 'orchestra_dbt')(text)) }}
{%- endmacro %}

{% macro default__state_literal(text) -%}
  {{ return("'" ~ (text | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{% macro orchestra_dbt_backslash_literal(text) -%}
  {{ return("'" ~ (text | string).replace('\\', '\\\\').replace("'", "\\'") ~ "'") }}
{%- endmacro %}

{% macro snowflake__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro bigquery__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro databricks__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro spark__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}

{% macro redshift__state_literal(text) -%}
  {{ return(orchestra_dbt.orchestra_dbt_backslash_literal(text)) }}
{%- endmacro %}


{% macro state_table_create_sql(relation) -%}
  {{ return(adapter.dispatch('state_table_create_sql', 'orchestra_dbt')(relation)) }}
{%- endmacro %}

{% macro default__state_table_create_sql(relation) -%}
  {%- set text_type = orchestra_dbt.state_text_type() -%}
  {%- set sql -%}
create table if not exists {{ relation }} (
    state_key {{ text_type }} not null,
    kind {{ text_type }} not null,
    last_updated {{ text_type }} not null,
    item {{ text_type }} not null
)
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- Spark needs a Delta table to delete rows (Databricks makes Delta tables by default). -#}
{% macro spark__state_table_create_sql(relation) -%}
  {{ return(orchestra_dbt.default__state_table_create_sql(relation) ~ '\nusing delta') }}
{%- endmacro %}


{#- rows: a list of [state_key, kind, last_updated, item] (all text). -#}
{% macro state_table_insert_sql(relation, rows) -%}
  {{ return(adapter.dispatch('state_table_insert_sql', 'orchestra_dbt')(relation, rows)) }}
{%- endmacro %}

{% macro default__state_table_insert_sql(relation, rows) -%}
  {%- set values = [] -%}
  {%- for row in rows -%}
    {%- set cells = [] -%}
    {%- for cell in row -%}
      {%- do cells.append(orchestra_dbt.state_literal(cell)) -%}
    {%- endfor -%}
    {%- do values.append('(' ~ cells | join(', ') ~ ')') -%}
  {%- endfor -%}
  {{ return('insert into ' ~ relation ~ ' (state_key, kind, last_updated, item) values\n' ~ values | join(',\n')) }}
{%- endmacro %}


{#- Every row of a kind (of the given keys, when keys is not none), oldest first per key. -#}
{% macro state_table_select_sql(relation, kind, keys=none) -%}
  {{ return(adapter.dispatch('state_table_select_sql', 'orchestra_dbt')(relation, kind, keys)) }}
{%- endmacro %}

{% macro default__state_table_select_sql(relation, kind, keys) -%}
  {%- set sql -%}
select state_key, last_updated, item
from {{ relation }}
where kind = {{ orchestra_dbt.state_literal(kind) }}
{%- if keys is not none %}
  and state_key in ({{ orchestra_dbt._state_literals(keys) }})
{%- endif %}
order by state_key, last_updated, item
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- Delete the rows of `keys` (all rows of the kind when keys is none) written for a time
    at or before `before`: a newer row written meanwhile by another run is kept. -#}
{% macro state_table_delete_sql(relation, kind, keys, before) -%}
  {{ return(adapter.dispatch('state_table_delete_sql', 'orchestra_dbt')(relation, kind, keys, before)) }}
{%- endmacro %}

{% macro default__state_table_delete_sql(relation, kind, keys, before) -%}
  {%- set sql -%}
delete from {{ relation }}
where kind = {{ orchestra_dbt.state_literal(kind) }}
{%- if keys is not none %}
  and state_key in ({{ orchestra_dbt._state_literals(keys) }})
{%- endif %}
  and last_updated <= {{ orchestra_dbt.state_literal(before) }}
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}


{#- Delete every node row (of `keys`, when given) that a newer row of the same key
    supersedes. `last_updated` has a fixed width, so `last_updated || state_key` names one
    row version. -#}
{% macro state_table_compact_sql(relation, keys=none) -%}
  {{ return(adapter.dispatch('state_table_compact_sql', 'orchestra_dbt')(relation, keys)) }}
{%- endmacro %}

{% macro default__state_table_compact_sql(relation, keys) -%}
  {%- set only_keys -%}
    {%- if keys is not none %} and state_key in ({{ orchestra_dbt._state_literals(keys) }}){% endif -%}
  {%- endset -%}
  {%- set sql -%}
delete from {{ relation }}
where kind = 'node'{{ only_keys }}
  and last_updated || state_key not in (
    select max(last_updated) || state_key
    from {{ relation }}
    where kind = 'node'{{ only_keys }}
    group by state_key
  )
  {%- endset -%}
  {{ return(sql) }}
{%- endmacro %}

{% macro _state_literals(values) -%}
  {%- set literals = [] -%}
  {%- for value in values -%}
    {%- do literals.append(orchestra_dbt.state_literal(value)) -%}
  {%- endfor -%}
  {{ return(literals | join(', ')) }}
{%- endmacro %}


{#- --- Reading and writing, used by the hooks and by `orc` (through execute_macro) --- -#}

{#- One statement inside the connection's transaction (run_query would run it outside, and
    the commit below would find no transaction to commit). -#}
{% macro _state_run(sql, fetch=false) -%}
  {%- call statement('orchestra_dbt_state', fetch_result=fetch, auto_begin=true) -%}
    {{ sql }}
  {%- endcall -%}
  {%- if fetch -%}
    {{ return(load_result('orchestra_dbt_state').table) }}
  {%- endif -%}
{%- endmacro %}

{% macro ensure_state_table(relation) -%}
  {%- do adapter.create_schema(api.Relation.create(database=relation.database, schema=relation.schema)) -%}
  {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_create_sql(relation)) -%}
  {#- dbt's relation cache may list the schema without the table just made. -#}
  {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
    {%- do adapter.cache_added(relation) -%}
  {%- endif -%}
{%- endmacro %}


{#- The rows of a kind as [state_key, last_updated, item] lists; none when the table does
    not exist (reading never creates it). With check_exists false the caller has checked
    that the table exists (orc does, bypassing dbt's relation cache). -#}
{% macro read_state_rows(state_table=none, kind='node', keys=none, check_exists=true) -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {%- if not execute -%}
    {{ return([]) }}
  {%- endif -%}
  {%- if check_exists and adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if keys is not none and keys | length == 0 -%}
    {{ return([]) }}
  {%- endif -%}
  {%- set table = orchestra_dbt._state_run(orchestra_dbt.state_table_select_sql(relation, kind, keys), fetch=true) -%}
  {%- set rows = [] -%}
  {%- for row in table.rows -%}
    {%- do rows.append([row[0], row[1], row[2]]) -%}
  {%- endfor -%}
  {{ return(rows) }}
{%- endmacro %}


{#- Append `rows` ([state_key, kind, last_updated, item]), delete the node rows of
    `removals` written at or before `removed_before`, drop the rows the new ones supersede,
    and commit: one transaction where the warehouse has them. Only the keys written are
    touched, so writers of different nodes never wait for each other. Creates the table on
    first use. -#}
{% macro write_state_rows(state_table=none, rows=[], removals=[], removed_before=none) -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {%- set removed_before = removed_before or orchestra_dbt._state_now() -%}
  {%- do orchestra_dbt.ensure_state_table(relation) -%}
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
    {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_compact_sql(relation, chunk)) -%}
  {%- endfor -%}
  {%- do adapter.commit() -%}
{%- endmacro %}


{#- --- The hooks --- -#}

{% macro _state_now() -%}
  {{ return(modules.datetime.datetime.utcnow().strftime('%Y-%m-%dT%H:%M:%S.%fZ')) }}
{%- endmacro %}

{% macro _state_time(value) -%}
  {#- A datetime from dbt (naive values are UTC) as fixed-width UTC text. -#}
  {%- if value.tzinfo is not none and value.utcoffset() is not none -%}
    {%- set value = value.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
  {%- endif -%}
  {{ return(value.strftime('%Y-%m-%dT%H:%M:%S.%fZ')) }}
{%- endmacro %}


{#- The nodes (sources included) whose data a node reads, looking through views and
    ephemeral models as `orc` does (orchestra_dbt_py.planner.data_inputs). -#}
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


{#- on-run-start: measure the freshness of every source the run's nodes read, before they
    read it, and keep it for record_run. Freshness taken after the build could include
    data the build never saw, so record_run records none without this hook. -#}
{% macro observe_sources(state_table=none) -%}
  {%- if not execute or orchestra_dbt._orc_records_this_run() -%}
    {{ return('') }}
  {%- endif -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {%- set selected = selected_resources if selected_resources is defined and selected_resources else graph.nodes.keys() | list -%}
  {%- set wanted = {} -%}
  {%- for unique_id in selected -%}
    {%- for input_id in orchestra_dbt._data_inputs(unique_id) -%}
      {%- if input_id in graph.sources -%}
        {%- do wanted.update({input_id: true}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set observed = {} -%}
  {%- for source_id in wanted | sort -%}
    {%- do observed.update({source_id: orchestra_dbt._observe_source(graph.sources[source_id])}) -%}
  {%- endfor -%}
  {%- set row = [invocation_id, 'observation', orchestra_dbt._state_now(), tojson(observed, sort_keys=true)] -%}
  {%- do orchestra_dbt.write_state_rows(state_table, [row]) -%}
  {{ return('') }}
{%- endmacro %}

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


{#- on-run-end: record every node the run built (and every test it ran) into the state
    table, in the shape `orc` writes; forget the ones that failed, so they are rebuilt. -#}
{% macro record_run(results, state_table=none) -%}
  {%- if not execute or orchestra_dbt._orc_records_this_run() -%}
    {{ return('') }}
  {%- endif -%}
  {%- set relation = orchestra_dbt.state_table_relation(state_table) -%}
  {%- set now = orchestra_dbt._state_now() -%}
  {#- --empty, --sample and --event-time-* build partial data: never reusable. -#}
  {%- set args = invocation_args_dict or {} -%}
  {%- set partial = args.get('empty') or args.get('sample') or args.get('event_time_start') or args.get('event_time_end') -%}
  {%- set account = var('orchestra_integration_account_id', none) -%}
  {%- set observations = orchestra_dbt.read_state_rows(state_table, 'observation', [invocation_id]) or [] -%}
  {%- set observed = fromjson(observations[-1][2]) if observations else {} -%}

  {%- set finished = {} -%}
  {%- set removed = [] -%}
  {%- for result in results -%}
    {%- set node = graph.nodes.get(result.node.unique_id) -%}
    {%- if node is not none -%}
      {%- set status = result.status | string -%}
      {%- set built = node.resource_type in ('model', 'seed', 'snapshot') and status == 'success' -%}
      {%- set tested = node.resource_type == 'test' and status in ('pass', 'warn', 'fail') -%}
      {%- if (built or tested) and partial -%}
        {%- do removed.append(orchestra_dbt._state_key(node, account)) -%}
      {%- elif built or tested -%}
        {%- set completed = result.timing[-1].completed_at if result.timing else none -%}
        {%- do finished.update({node.unique_id: {
              'status': status,
              'last_updated': orchestra_dbt._state_time(completed) if completed else now,
              'execution_time': result.execution_time}}) -%}
      {%- elif status in ('error', 'fail', 'runtime error') -%}
        {%- do removed.append(orchestra_dbt._state_key(node, account)) -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}

  {#- Data versions of inputs this run did not build come from the table. -#}
  {%- set inputs_of = {} -%}
  {%- set outside = {} -%}
  {%- for unique_id in finished -%}
    {%- set inputs = orchestra_dbt._data_inputs(unique_id) -%}
    {%- do inputs_of.update({unique_id: inputs}) -%}
    {%- for input_id in inputs -%}
      {%- if input_id in graph.nodes and input_id not in finished -%}
        {%- do outside.update({orchestra_dbt._state_key(graph.nodes[input_id], account): input_id}) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set known = {} -%}
  {%- for row in (orchestra_dbt.read_state_rows(state_table, 'node', outside.keys() | list) or []) -%}
    {%- do known.update({outside[row[0]]: fromjson(row[2]).get('last_updated')}) -%}
  {%- endfor -%}

  {%- set fingerprints = orchestra_dbt.hook_fingerprints(finished.keys() | list) -%}
  {%- set rows = [] -%}
  {%- for unique_id, done in finished.items() -%}
    {%- set node = graph.nodes[unique_id] -%}
    {%- set sources = {} -%}
    {%- set unmeasured = [] -%}
    {%- set upstream = {} -%}
    {%- for input_id in inputs_of[unique_id] -%}
      {%- if input_id in graph.sources -%}
        {%- if observed.get(input_id) -%}
          {%- do sources.update({input_id: observed[input_id]}) -%}
        {%- else -%}
          {%- do unmeasured.append(input_id) -%}
        {%- endif -%}
      {%- elif input_id in finished -%}
        {%- do upstream.update({input_id: finished[input_id].last_updated}) -%}
      {%- elif known.get(input_id) -%}
        {%- do upstream.update({input_id: known[input_id]}) -%}
      {%- endif -%}
    {%- endfor -%}
    {%- set item = {
          'last_updated': done.last_updated,
          'checksum': node.checksum.checksum if node.checksum else '',
          'sources': sources,
          'upstream': upstream,
          'fingerprint': fingerprints.get(unique_id),
          'relation': node.relation_name,
          'status': done.status,
          'execution_time': done.execution_time,
          'recorded_by': 'orchestra_dbt.record_run'} -%}
    {%- if unmeasured -%}
      {%- do item.update({'unmeasured_sources': unmeasured | sort}) -%}
    {%- endif -%}
    {%- do rows.append([orchestra_dbt._state_key(node, account), 'node', done.last_updated, tojson(item, sort_keys=true)]) -%}
  {%- endfor -%}

  {%- do orchestra_dbt.write_state_rows(state_table, rows, removed, now) -%}
  {#- This run's observation is used; those of runs that died before their end are dropped
      after a day. -#}
  {%- set day_ago = modules.datetime.datetime.utcnow() - modules.datetime.timedelta(days=1) -%}
  {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_delete_sql(relation, 'observation', [invocation_id], now)) -%}
  {%- do orchestra_dbt._state_run(orchestra_dbt.state_table_delete_sql(relation, 'observation', none, orchestra_dbt._state_time(day_ago))) -%}
  {%- do adapter.commit() -%}
  {{ return('') }}
{%- endmacro %}

{#- `orc` records the runs it drives itself (with its own, finer fingerprint) and tells the
    hooks so through this environment variable, set only inside its process. -#}
{% macro _orc_records_this_run() -%}
  {{ return(env_var('ORCHESTRA_DBT_RECORDER', '') == 'orc') }}
{%- endmacro %}

{#- dbt-orchestra's key rule, as orc applies it (orchestra_dbt_py.runner.state_key). -#}
{% macro _state_key(node, account) -%}
  {%- if account -%}
    {{ return(account ~ '.' ~ (node.relation_name or node.unique_id)) }}
  {%- endif -%}
  {{ return(node.unique_id) }}
{%- endmacro %}


{#- --- The hook's definition fingerprint --- -#}

{#- A hooked run cannot compute orc's own fingerprint (dbt runs it in Python), so it
    records this one, which `orc` recomputes through the same macro before trusting it.
    It is coarser than orc's: every macro of the project counts for every node, and every
    var, env var and target field named anywhere in the project's macros or in the node
    counts. Nodes of installed packages get none (their vars are scoped to the package and
    cannot be read here); `orc` rebuilds those once and then records its own fingerprint.
    Returns {unique_id: 'hook1:<md5>' or none}. -#}
{% macro hook_fingerprints(unique_ids) -%}
  {%- set shared = orchestra_dbt._hook_project_digest() -%}
  {%- set done = {} -%}
  {%- for unique_id in unique_ids -%}
    {%- do done.update({unique_id: orchestra_dbt._hook_fingerprint(unique_id, shared, 0)}) -%}
  {%- endfor -%}
  {{ return(done) }}
{%- endmacro %}

{% macro _hook_fingerprint(unique_id, shared, depth) -%}
  {%- set node = graph.nodes.get(unique_id) -%}
  {%- if node is none or node.package_name != project_name or depth > 50 -%}
    {{ return(none) }}
  {%- endif -%}
  {%- if node.resource_type == 'seed' and (not node.checksum or node.checksum.name != 'sha256') -%}
    {{ return(none) }}  {#- a large seed's checksum is its path, not its contents -#}
  {%- endif -%}
  {%- set config = {} -%}
  {%- for key, value in node.config.items() if key != 'freshness' -%}
    {%- do config.update({key: value}) -%}
  {%- endfor -%}
  {%- set parents = [] -%}
  {%- for parent_id in node.depends_on.nodes | unique | sort -%}
    {%- set parent = graph.nodes.get(parent_id) -%}
    {%- if parent is not none and parent.resource_type == 'model' and parent.config.materialized == 'ephemeral' -%}
      {%- set inner = orchestra_dbt._hook_fingerprint(parent_id, shared, depth + 1) -%}
      {%- if inner is none -%}
        {{ return(none) }}
      {%- endif -%}
      {%- do parents.append([parent_id, inner]) -%}
    {%- elif parent is not none -%}
      {%- do parents.append([parent_id, parent.get('relation_name')]) -%}
    {%- elif parent_id in graph.sources -%}
      {%- set src = graph.sources[parent_id] -%}
      {%- do parents.append([parent_id, src.get('relation_name'), src.get('external'), src.get('meta')]) -%}
    {%- else -%}
      {%- do parents.append([parent_id, none]) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set payload = {
        'version': 1,
        'project': shared,
        'resource_type': node.resource_type,
        'language': node.get('language'),
        'raw_code': node.get('raw_code'),
        'checksum': node.checksum,
        'config': config,
        'relation': [node.get('database'), node.get('schema'), node.get('alias'), node.get('relation_name')],
        'description': node.get('description'),
        'columns': node.get('columns'),
        'test': [node.get('test_metadata'), node.get('column_name'), node.get('attached_node')],
        'parents': parents} -%}
  {%- set text = orchestra_dbt._hook_text(payload) ~ orchestra_dbt._hook_node_reads(node, config) -%}
  {{ return('hook1:' ~ local_md5(text)) }}
{%- endmacro %}


{#- Vars, env vars and target fields a node's own code or config names, which the project
    digest (built from the macros) may not include. -#}
{% macro _hook_node_reads(node, config) -%}
  {%- set text = (node.get('raw_code') or '') ~ orchestra_dbt._hook_text(config) ~ orchestra_dbt._hook_text(node.get('test_metadata')) -%}
  {{ return(orchestra_dbt._hook_text(orchestra_dbt._hook_read_values(text))) }}
{%- endmacro %}


{#- Every macro's code, and the values of every var, env var (as md5) and target field the
    macros name: the same for every node of one run. -#}
{% macro _hook_project_digest() -%}
  {%- set macros = {} -%}
  {%- for name, value in context.items() -%}
    {%- if value is mapping -%}
      {%- for macro_name, generator in value.items() -%}
        {%- if generator.macro is defined and generator.macro.unique_id is defined -%}
          {%- do macros.update({generator.macro.unique_id: generator.macro.macro_sql}) -%}
        {%- endif -%}
      {%- endfor -%}
    {%- elif value.macro is defined and value.macro.unique_id is defined -%}
      {%- do macros.update({value.macro.unique_id: value.macro.macro_sql}) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set lines = [] -%}
  {%- for unique_id in macros | sort -%}
    {%- do lines.append(unique_id ~ ' ' ~ local_md5(macros[unique_id])) -%}
  {%- endfor -%}
  {%- set reads = orchestra_dbt._hook_read_values(macros.values() | join('\n')) -%}
  {{ return(local_md5(lines | join('\n')) ~ ' ' ~ local_md5(orchestra_dbt._hook_text(reads))) }}
{%- endmacro %}

{#- A value as text to hash. dbt's tojson raises on what JSON cannot hold (a var can hold a
    date), so such values are first turned into their text: a changed value still changes
    the text. -#}
{% macro _hook_text(value) -%}
  {{ return(tojson(orchestra_dbt._hook_plain(value, 0), sort_keys=true)) }}
{%- endmacro %}

{% macro _hook_plain(value, depth) -%}
  {%- if value is none or value is string or value is boolean or value is number or depth > 30 -%}
    {{ return(value if depth <= 30 else (value | string)) }}
  {%- elif value is mapping -%}
    {%- set plain = {} -%}
    {%- for key, item in value.items() -%}
      {%- do plain.update({key | string: orchestra_dbt._hook_plain(item, depth + 1)}) -%}
    {%- endfor -%}
    {{ return(plain) }}
  {%- elif value is iterable and value is not undefined -%}
    {%- set plain = [] -%}
    {%- for item in value -%}
      {%- do plain.append(orchestra_dbt._hook_plain(item, depth + 1)) -%}
    {%- endfor -%}
    {{ return(plain) }}
  {%- endif -%}
  {{ return(value | string) }}
{%- endmacro %}

{% macro _hook_read_values(text) -%}
  {%- set re = modules.re -%}
  {%- set missing = '\x00orchestra_dbt: not set' -%}
  {%- set vars = {} -%}
  {%- for name in re.findall("\\bvar\\(\\s*['\"]([^'\"]+)['\"]", text) | unique | sort -%}
    {%- do vars.update({name: var(name, missing)}) -%}
  {%- endfor -%}
  {%- set envs = {} -%}
  {%- for name in re.findall("\\benv_var\\(\\s*['\"]([^'\"]+)['\"]", text) | unique | sort if name != 'ORCHESTRA_DBT_RECORDER' -%}
    {%- do envs.update({name: local_md5(env_var(name, missing) | string)}) -%}
  {%- endfor -%}
  {%- set targets = {} -%}
  {%- for name in re.findall("\\btarget\\.(\\w+)", text) | unique | sort -%}
    {%- do targets.update({name: local_md5(orchestra_dbt._hook_text(target.get(name)))}) -%}
  {%- endfor -%}
  {{ return({'vars': vars, 'env_vars': envs, 'target': targets}) }}
{%- endmacro %}
