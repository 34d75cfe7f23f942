{#-
  Helpers for the singular tests. Each renders a one-row SELECT describing a
  check, filtered out (zero rows, test passes) when the check holds.
-#}

{#- `expected` is 'YYYY-MM-DD HH:MM:SS', or none when none is expected.
    A string result never passes: these adapters must give a datetime. -#}
{% macro it_check_equals(check_name, actual, expected) -%}
  {%- if expected is none -%}
    {%- set ok = actual is none -%}
  {%- else -%}
    {%- set ok = actual is not none
        and actual.strftime is defined
        and actual.strftime('%Y-%m-%d %H:%M:%S') == expected -%}
  {%- endif -%}
  {{ it_check_row(check_name, ok, actual, expected) }}
{%- endmacro %}


{#- `actual` must be a datetime within 2 seconds of `expected_epoch` (a
    naive datetime is read as UTC). Without an expected value (a manual run
    without the pinned file times) it must merely be a plausible past time. -#}
{% macro it_check_mtime(check_name, actual, expected_epoch) -%}
  {%- set ok = false -%}
  {%- if actual is not none and actual.timestamp is defined -%}
    {%- set utc = modules.pytz.utc -%}
    {%- set aware = actual if actual.tzinfo is not none else actual.replace(tzinfo=utc) -%}
    {%- set actual_epoch = aware.timestamp() -%}
    {%- if expected_epoch is not none -%}
      {%- set ok = ((actual_epoch - (expected_epoch | float)) | abs) <= 2 -%}
    {%- else -%}
      {%- set now_epoch = modules.datetime.datetime.now(utc).timestamp() -%}
      {%- set ok = actual_epoch > 946684800 and actual_epoch <= now_epoch + 86400 -%}
    {%- endif -%}
  {%- endif -%}
  {{ it_check_row(check_name, ok, actual, expected_epoch) }}
{%- endmacro %}


{% macro it_check_row(check_name, ok, actual, expected) -%}
select
    '{{ it_sql_text(check_name) }}' as check_name,
    '{{ it_sql_text(actual) }}' as actual_value,
    '{{ it_sql_text(expected) }}' as expected_value
where {{ '1 = 0' if ok else '1 = 1' }}
{%- endmacro %}


{% macro it_sql_text(value) -%}
  {{- (value ~ '') | replace("'", "''") -}}
{%- endmacro %}
