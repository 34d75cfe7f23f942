{#-
  For the models in models/state_hooks/, which the state-table tests run with the
  package's hooks (tests/integration/test_state_warehouse.py).

  it_state_hooks_raw_tables (on-run-start, before observe_sources): creates the two raw
  tables the `sh_raw` source reads, with fixed `loaded_at` times, when they do not exist.
  Tests then append rows with newer times to make a source fresh.
-#}
{% macro it_state_hooks_raw_tables() -%}
  {%- if not execute -%}
    {{ return('') }}
  {%- endif -%}
  {%- set tables = {
      'orders': {
        'columns': 'id integer, customer_id integer, amount integer, loaded_at timestamp',
        'rows': [
          "(1, 1, 100, cast('2024-05-01 10:00:00' as timestamp))",
          "(2, 1, 250, cast('2024-05-02 11:00:00' as timestamp))",
          "(3, 2, 40, cast('2024-05-03 12:00:00' as timestamp))",
        ],
      },
      'customers': {
        'columns': 'id integer, name varchar(32), region_code varchar(8), loaded_at timestamp',
        'rows': [
          "(1, 'Ada', 'eu', cast('2024-04-01 09:00:00' as timestamp))",
          "(2, 'Grace', 'us', cast('2024-04-02 09:30:00' as timestamp))",
        ],
      },
  } -%}
  {%- for name, table in tables.items() -%}
    {%- set relation = source('sh_raw', name) -%}
    {%- if adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
      {%- do adapter.create_schema(api.Relation.create(database=relation.database, schema=relation.schema)) -%}
      {%- call statement('it_state_hooks_create', auto_begin=true) -%}
        create table {{ relation }} ({{ table.columns }})
      {%- endcall -%}
      {%- call statement('it_state_hooks_insert', auto_begin=true) -%}
        insert into {{ relation }} values {{ table.rows | join(', ') }}
      {%- endcall -%}
      {%- do adapter.commit() -%}
      {#- dbt listed this schema's relations before the hooks ran: tell its cache. -#}
      {%- do adapter.cache_added(relation.incorporate(type='table')) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return('') }}
{%- endmacro %}


{#- Used by sh_customer_regions; the tests edit it to check that a changed macro counts. -#}
{% macro sh_region_label(name_column, code_column) -%}
  {{ name_column }} || ' (' || {{ code_column }} || ')'
{%- endmacro %}
