{#-
  orchestra_dbt.source_freshness

  Answers one question for `orc`: when did this source last receive data?

  Return value (consumed by Python through `adapter.execute_macro`):
    - a datetime (what the warehouse driver gives; may be naive or aware),
    - or an ISO-8601 string, if the warehouse only gives text,
    - or none when freshness cannot be measured: nothing configured and no
      metadata available for the adapter, an empty table, or parse time
      (`execute` is false).
  It never returns a marker string and never prints anything to be parsed.

  Order of preference, for every adapter:
    1. loaded_at_query  (dbt's own collect_freshness_custom_sql)
    2. loaded_at_field  (dbt's own collect_freshness, with the optional filter)
    3. warehouse metadata, where the adapter has any (metadata_freshness.sql)

  The body is the same for every adapter, so there is only a default__: the
  adapter differences live in metadata_freshness.
-#}

{% macro source_freshness(relation, loaded_at_field=none, loaded_at_query=none, filter=none, external_location=none) -%}
  {{ return(adapter.dispatch('source_freshness', 'orchestra_dbt')(relation, loaded_at_field, loaded_at_query, filter, external_location)) }}
{%- endmacro %}


{% macro default__source_freshness(relation, loaded_at_field, loaded_at_query, filter, external_location) -%}
  {%- if loaded_at_query or loaded_at_field -%}
    {{ return(orchestra_dbt._loaded_at_freshness(relation, loaded_at_field, loaded_at_query, filter)) }}
  {%- endif -%}
  {%- if not execute -%}
    {{ return(none) }}
  {%- endif -%}
  {{ return(orchestra_dbt.metadata_freshness(relation, external_location)) }}
{%- endmacro %}
