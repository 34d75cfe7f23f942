{#-
  Dispatch overrides. dbt_project.yml puts this project before orchestra_dbt
  in the `orchestra_dbt` dispatch search order, so every call to
  orchestra_dbt.source_freshness in these tests lands here first. For the
  `override_probe` source (a table that does not exist) the override answers
  with a fixed sentinel; everything else is handed to the package's own
  implementation. tests/assert_dispatch_override_wins.sql checks the sentinel.
-#}

{% macro default__source_freshness(relation, loaded_at_field, loaded_at_query, filter, external_location) -%}
  {%- if it_is_override_probe(relation) -%}
    {{ return(it_override_sentinel()) }}
  {%- endif -%}
  {{ return(orchestra_dbt.default__source_freshness(relation, loaded_at_field, loaded_at_query, filter, external_location)) }}
{%- endmacro %}


{% macro it_is_override_probe(relation) -%}
  {{ return(relation.identifier == 'orc_it_override_probe') }}
{%- endmacro %}


{% macro it_override_sentinel() -%}
  {{ return(modules.datetime.datetime(2001, 2, 3, 4, 5, 6)) }}
{%- endmacro %}
