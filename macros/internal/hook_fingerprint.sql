{#- Private: the pieces of hook_fingerprints. -#}

{#- One node's fingerprint; ephemeral parents are fingerprinted in full, recursively. -#}
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
