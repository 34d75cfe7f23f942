-- The project's own default__source_freshness (macros/source_freshness_overrides.sql)
-- is found before the package's: the probe table does not exist, so only the
-- override can produce this value.
{%- if execute %}
  {%- set actual = orchestra_dbt.source_freshness(source('orc_it', 'override_probe')) %}
{%- else %}
  {%- set actual = none %}
{%- endif %}

{{ it_check_equals('dispatch override wins', actual, '2001-02-03 04:05:06') }}
