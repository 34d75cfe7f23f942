-- An empty table has no max: none, not an error and not a marker.
-- depends_on: {{ ref('it_empty_events') }}
{%- if execute %}
  {%- set relation = source('orc_it', 'empty_events') %}
  {%- set by_field = orchestra_dbt.source_freshness(relation, loaded_at_field='_loaded_at') %}
  {%- set by_query = orchestra_dbt.source_freshness(
        relation, loaded_at_query='select max(_loaded_at) from ' ~ relation) %}
{%- else %}
  {%- set by_field = 'not executed' %}
  {%- set by_query = 'not executed' %}
{%- endif %}

{{ it_check_equals('empty table by field returns none', by_field, none) }}
union all
{{ it_check_equals('empty table by query returns none', by_query, none) }}
