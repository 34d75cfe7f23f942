-- Nothing configured and no metadata for a plain table: none ("cannot be measured").
-- depends_on: {{ ref('it_events') }}
{%- if execute %}
  {%- set actual = orchestra_dbt.source_freshness(source('orc_it', 'events')) %}
  {%- set blank = orchestra_dbt.source_freshness(
        source('orc_it', 'events'), loaded_at_field='', loaded_at_query='', external_location='') %}
{%- else %}
  {%- set actual = 'not executed' %}
  {%- set blank = 'not executed' %}
{%- endif %}

{{ it_check_equals('no configuration returns none', actual, none) }}
union all
{{ it_check_equals('blank configuration returns none', blank, none) }}
