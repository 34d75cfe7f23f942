-- filter restricts the rows that loaded_at_field is maximised over.
-- depends_on: {{ ref('it_events') }}
{%- if execute %}
  {%- set actual = orchestra_dbt.source_freshness(
        source('orc_it', 'events'),
        loaded_at_field='_loaded_at',
        filter="region = 'eu'") %}
{%- else %}
  {%- set actual = none %}
{%- endif %}

{{ it_check_equals('filter is applied', actual, '2024-02-20 17:45:00') }}
