-- orchestra_dbt.data_versions: one entry per relation (a repeated relation once), keyed by
-- relation.render(); text fields for a table, {} for a relation that does not exist; on
-- DuckDB a file-backed source is measured by its files. Measuring twice gives the same.
-- The changes that must move a version are driven from tests/integration/test_package_macros.py.
-- depends_on: {{ ref('it_events') }}
{%- set events = ref('it_events') %}
{%- set missing = source('orc_it', 'override_probe') %}
{%- set relations = [events, missing, events] %}
{%- set expected_fields = {
      'postgres': ['columns', 'oid', 'relfilenode', 'rows', 'xmin_digest'],
      'duckdb': ['columns', 'digest', 'rows'],
    }[target.type] %}
{%- if target.type == 'duckdb' %}
  {%- set files = source('orc_it_files', 'orders_path') %}
  {%- do relations.append(files) %}
{%- endif %}
{%- set versions = orchestra_dbt.data_versions(relations) if execute else {} %}
{%- set again = orchestra_dbt.data_versions(relations) if execute else {} %}

{%- set expected_keys = [events.render(), missing.render()] %}
{%- if target.type == 'duckdb' %}
  {%- do expected_keys.append(files.render()) %}
{%- endif %}
{%- set event_version = versions.get(events.render(), {}) %}
{%- set texts = [] %}
{%- for value in event_version.values() if value is string and value %}
  {%- do texts.append(value) %}
{%- endfor %}

{{ it_check_row('one key per relation, as rendered', (versions.keys() | sort | list) == (expected_keys | sort), versions.keys() | sort | list, expected_keys | sort) }}
union all
{{ it_check_row('table fields', (event_version.keys() | sort | list) == expected_fields, event_version.keys() | sort | list, expected_fields) }}
union all
{{ it_check_row('every field is non-empty text', (texts | length) == (expected_fields | length), event_version, 'text') }}
union all
{{ it_check_row('rows of it_events', event_version.get('rows') == '4', event_version.get('rows'), '4') }}
union all
{{ it_check_row('a missing relation is unknown', versions.get(missing.render()) == {}, versions.get(missing.render()), {}) }}
union all
{{ it_check_row('measuring twice gives the same', versions == again, again, versions) }}
{%- if target.type == 'duckdb' %}
union all
{{ it_check_row('file source fields', (versions.get(files.render(), {}).keys() | sort | list) == ['bytes', 'files', 'listing', 'modified'], versions.get(files.render()), 'files, bytes, modified, listing') }}
union all
{{ it_check_row('file source files', versions.get(files.render(), {}).get('files') == '1', versions.get(files.render()), '1 file') }}
{%- endif %}
