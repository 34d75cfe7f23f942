{#-
  orchestra_dbt.sources_freshness(sources)

  `source_freshness` for many sources in one call: `sources` is a list of mappings with the
  arguments of source_freshness (relation, loaded_at_field, loaded_at_query, filter,
  external_location); the answer is the list of their answers, in the same order. Each
  source is still measured by source_freshness, dispatched as usual (so a project's
  override of it wins); one call saves the cost of starting a macro per source. A source
  whose query fails fails the whole call: orc then measures that batch one source at a
  time, to say which source failed.
-#}
{% macro sources_freshness(sources) -%}
  {%- set answers = [] -%}
  {%- for source in sources -%}
    {%- do answers.append(orchestra_dbt.source_freshness(
          source['relation'], source.get('loaded_at_field'), source.get('loaded_at_query'),
          source.get('filter'), source.get('external_location'))) -%}
  {%- endfor -%}
  {{ return(answers) }}
{%- endmacro %}
