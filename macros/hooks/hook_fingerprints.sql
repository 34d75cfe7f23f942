{#- A hooked run cannot compute orc's own fingerprint (dbt runs it in Python), so it
    records this one, which `orc` recomputes through the same macro before trusting it.
    It is coarser than orc's: every macro of the project counts for every node, and every
    var, env var and target field named anywhere in the project's macros or in the node
    counts. Nodes of installed packages get none (their vars are scoped to the package and
    cannot be read here); `orc` rebuilds those once and then records its own fingerprint.
    Returns {unique_id: 'hook1:<md5>' or none}. The pieces are in
    macros/internal/hook_fingerprint.sql and macros/internal/hook_values.sql. -#}

{% macro hook_fingerprints(unique_ids) -%}
  {%- set shared = orchestra_dbt._hook_project_digest() -%}
  {%- set done = {} -%}
  {%- for unique_id in unique_ids -%}
    {%- do done.update({unique_id: orchestra_dbt._hook_fingerprint(unique_id, shared, 0)}) -%}
  {%- endfor -%}
  {{ return(done) }}
{%- endmacro %}
