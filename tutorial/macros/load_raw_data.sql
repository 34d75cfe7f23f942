{#-
  Loads the tutorial's raw data as real tables in the warehouse, in the schema
  `<target schema>_raw` (for example `main_raw` on DuckDB, `tutorial_raw` on PostgreSQL;
  the `ci` target shares production's, `main_raw`).

    dbt run-operation load_raw_data                    -- batch 1: customers, orders, payments
    dbt run-operation load_raw_data --args '{batch: 2}' -- batch 2: five new orders

  Batch 1 resets all three tables to the same rows every time it runs (rows from
  batch 2 are removed). Batch 2 only touches `orders`; running it twice is safe.
  Every row gets a `_loaded_at` timestamp of the moment it was loaded, which is what
  source freshness and the incremental model look at.
-#}
{% macro load_raw_data(batch=1) %}
  {%- set batch = batch | int -%}
  {%- if batch not in [1, 2] -%}
    {%- do exceptions.raise_compiler_error("load_raw_data: batch must be 1 or 2, got " ~ batch) -%}
  {%- endif -%}

  {%- set raw_schema = env_var('TUTORIAL_RAW_SCHEMA', ('main' if target.name == 'ci' else target.schema) ~ '_raw') -%}

  {#- _loaded_at is a timestamp without time zone holding UTC. dbt source freshness
      reads zone-less timestamps as UTC, and a literal gives the same value on every
      warehouse whatever its session time zone (casting now() would not). -#}
  {%- set now_utc = modules.datetime.datetime.now(modules.pytz.utc).strftime('%Y-%m-%d %H:%M:%S.%f') -%}
  {%- set loaded_at = "cast('" ~ now_utc ~ "' as " ~ dbt.type_timestamp() ~ ")" -%}

  {%- set tables = {
      'customers': {
        'columns': [
          ('id', dbt.type_int()),
          ('first_name', dbt.type_string()),
          ('last_name', dbt.type_string()),
          ('email', dbt.type_string()),
        ],
        'rows': [
          (1, 'Ava', 'Morgan', 'ava.morgan@example.com'),
          (2, 'Liam', 'Chen', 'liam.chen@example.com'),
          (3, 'Noah', 'Patel', 'noah.patel@example.com'),
          (4, 'Emma', 'Rossi', 'emma.rossi@example.com'),
          (5, 'Olivia', 'Novak', 'olivia.novak@example.com'),
          (6, 'Lucas', 'Silva', 'lucas.silva@example.com'),
          (7, 'Mia', 'Jensen', 'mia.jensen@example.com'),
          (8, 'Ethan', 'Kowalski', 'ethan.kowalski@example.com'),
          (9, 'Sofia', 'Haddad', 'sofia.haddad@example.com'),
          (10, 'Leo', 'Tanaka', 'leo.tanaka@example.com'),
          (11, 'Zoe', 'Okafor', 'zoe.okafor@example.com'),
          (12, 'Ivan', 'Petrov', 'ivan.petrov@example.com'),
        ],
      },
      'orders': {
        'columns': [
          ('id', dbt.type_int()),
          ('customer_id', dbt.type_int()),
          ('order_date', 'date'),
          ('status', dbt.type_string()),
        ],
        'rows': [
          (1, 1, '2024-01-01', 'completed'),
          (2, 3, '2024-01-02', 'completed'),
          (3, 2, '2024-01-02', 'returned'),
          (4, 4, '2024-01-03', 'completed'),
          (5, 5, '2024-01-04', 'completed'),
          (6, 1, '2024-01-05', 'shipped'),
          (7, 6, '2024-01-05', 'completed'),
          (8, 7, '2024-01-06', 'return_pending'),
          (9, 8, '2024-01-07', 'completed'),
          (10, 3, '2024-01-08', 'shipped'),
          (11, 9, '2024-01-08', 'completed'),
          (12, 10, '2024-01-09', 'placed'),
          (13, 11, '2024-01-10', 'shipped'),
          (14, 2, '2024-01-11', 'placed'),
          (15, 5, '2024-01-12', 'completed'),
        ],
      },
      'payments': {
        'columns': [
          ('id', dbt.type_int()),
          ('order_id', dbt.type_int()),
          ('payment_method', dbt.type_string()),
          ('amount', dbt.type_int()),
        ],
        'rows': [
          (1, 1, 'credit_card', 1000),
          (2, 2, 'credit_card', 2000),
          (3, 3, 'coupon', 100),
          (4, 4, 'coupon', 2500),
          (5, 5, 'bank_transfer', 1700),
          (6, 6, 'credit_card', 600),
          (7, 7, 'credit_card', 1600),
          (8, 8, 'credit_card', 2300),
          (9, 9, 'gift_card', 2300),
          (10, 9, 'bank_transfer', 700),
          (11, 10, 'bank_transfer', 5200),
          (12, 11, 'credit_card', 6400),
          (13, 12, 'credit_card', 1800),
          (14, 13, 'bank_transfer', 7300),
          (15, 15, 'gift_card', 3000),
          (16, 15, 'coupon', 2500),
        ],
      },
  } -%}

  {#- Batch 2: new orders only (order 14 and these have no payments yet). -#}
  {%- set batch_2_orders = [
      (16, 12, '2024-01-13', 'placed'),
      (17, 1, '2024-01-13', 'placed'),
      (18, 4, '2024-01-14', 'placed'),
      (19, 7, '2024-01-14', 'placed'),
      (20, 9, '2024-01-15', 'placed'),
  ] -%}

  {%- set tables_loaded = [] -%}
  {%- if batch == 1 -%}
    {%- do adapter.create_schema(api.Relation.create(database=target.database, schema=raw_schema)) -%}
    {%- for table_name, spec in tables.items() -%}
      {%- set relation = api.Relation.create(
            database=target.database, schema=raw_schema, identifier=table_name, type='table') -%}
      {%- set column_ddl = [] -%}
      {%- for column_name, data_type in spec['columns'] -%}
        {%- do column_ddl.append(adapter.quote(column_name) ~ ' ' ~ data_type) -%}
      {%- endfor -%}
      {%- do column_ddl.append(adapter.quote('_loaded_at') ~ ' ' ~ dbt.type_timestamp()) -%}
      {#- Emptying instead of dropping keeps views built on these tables intact. -#}
      {%- do raw_data_execute('create table if not exists ' ~ relation ~ ' (' ~ column_ddl | join(', ') ~ ')') -%}
      {%- do raw_data_execute('delete from ' ~ relation) -%}
      {%- do raw_data_execute(raw_data_insert_sql(relation, spec['columns'], spec['rows'], loaded_at)) -%}
      {%- do tables_loaded.append(relation) -%}
    {%- endfor -%}
  {%- else -%}
    {%- set orders = adapter.get_relation(database=target.database, schema=raw_schema, identifier='orders') -%}
    {%- if orders is none -%}
      {%- do exceptions.raise_compiler_error(
            "load_raw_data: " ~ raw_schema ~ ".orders does not exist; run batch 1 first") -%}
    {%- endif -%}
    {%- set ids = [] -%}
    {%- for row in batch_2_orders -%}
      {%- do ids.append(row[0] | string) -%}
    {%- endfor -%}
    {%- do raw_data_execute('delete from ' ~ orders ~ ' where ' ~ adapter.quote('id') ~ ' in (' ~ ids | join(', ') ~ ')') -%}
    {%- do raw_data_execute(raw_data_insert_sql(orders, tables['orders']['columns'], batch_2_orders, loaded_at)) -%}
    {%- do tables_loaded.append(orders) -%}
  {%- endif -%}

  {#- run-operation never commits by itself: without this, PostgreSQL rolls back. -#}
  {%- do adapter.commit() -%}

  {%- for relation in tables_loaded -%}
    {%- set result = run_query('select count(*) from ' ~ relation) -%}
    {%- do log('load_raw_data: batch ' ~ batch ~ ' loaded, ' ~ relation ~ ' now has '
               ~ result.columns[0].values()[0] ~ ' rows', info=true) -%}
  {%- endfor -%}
{% endmacro %}


{#- Runs one statement inside the transaction of this operation; the first call
    opens it (auto_begin), the adapter.commit() at the end closes it. -#}
{% macro raw_data_execute(sql) %}
  {%- call statement('load_raw_data', auto_begin=true) -%}
    {{ sql }}
  {%- endcall -%}
{% endmacro %}


{#- One multi-row INSERT; strings and dates become quoted literals cast to the column type. -#}
{% macro raw_data_insert_sql(relation, columns, rows, loaded_at) %}
  {%- set column_names = [] -%}
  {%- for column_name, data_type in columns -%}
    {%- do column_names.append(adapter.quote(column_name)) -%}
  {%- endfor -%}
  {%- do column_names.append(adapter.quote('_loaded_at')) -%}
  {%- set value_rows = [] -%}
  {%- for row in rows -%}
    {%- set values = [] -%}
    {%- for value in row -%}
      {%- set data_type = columns[loop.index0][1] -%}
      {%- if value is number -%}
        {%- do values.append(value | string) -%}
      {%- else -%}
        {%- do values.append("cast('" ~ value ~ "' as " ~ data_type ~ ")") -%}
      {%- endif -%}
    {%- endfor -%}
    {%- do values.append(loaded_at) -%}
    {%- do value_rows.append('(' ~ values | join(', ') ~ ')') -%}
  {%- endfor -%}
  {{- return('insert into ' ~ relation ~ ' (' ~ column_names | join(', ') ~ ') values\n  '
             ~ value_rows | join(',\n  ')) -}}
{% endmacro %}
