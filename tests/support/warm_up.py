"""What the fork server does once before its first fork: run plain dbt on a tiny project.

dbt builds much of its machinery on first use in a process: the (de)serializers of its
artifacts' classes (mashumaro compiles them lazily) and the JSON schemas it validates
configuration against. That costs about 0.7 s of every fresh `orc` or `dbt` call on the
tutorial, some two thirds of an unchanged build. Built once in the server, every fork
inherits them.

Only plain dbt runs here, never orc: what orc keeps per process starts as cold in each fork
as in the installed command. Afterwards nothing of the run is left to the forks: the
adapters are unregistered, DuckDB's shared database is closed, and the folder, working
directory, environment and dbt's global flags are as before.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path

FILES = {
    "dbt_project.yml": (
        "name: warm_up\nversion: '1.0'\nconfig-version: 2\nprofile: warm_up\n"
        "snapshots:\n  +target_schema: main\n"
        "on-run-start: ['create table if not exists main.landed as select 1 as id, 10 as amount']\n"
    ),
    "profiles.yml": (
        "warm_up:\n  target: dev\n  outputs:\n    dev:\n"
        "      type: duckdb\n      path: warm_up.duckdb\n      threads: 2\n"
    ),
    "seeds/raw.csv": "id,amount\n1,10\n2,20\n",
    "models/staged.sql": "select id, amount from {{ source('landed', 'landed') }}",
    "models/totals.sql": (
        "{{ config(materialized='table') }}\nselect count(*) as n from {{ ref('staged') }}"
    ),
    "models/appended.sql": (
        "{{ config(materialized='incremental', unique_key='id') }}\n"
        "select id from {{ ref('staged') }}\n"
        "{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}"
    ),
    "macros/noop.sql": "{% macro noop() %}{% endmacro %}",
    "models/schema.yml": (
        "version: 2\n"
        "sources:\n  - name: landed\n    schema: main\n"
        "    freshness: {warn_after: {count: 1, period: day}}\n"
        "    loaded_at_field: current_timestamp\n    tables: [{name: landed}]\n"
        "models:\n  - name: totals\n    columns:\n"
        "      - name: n\n        data_tests: [not_null]\n"
    ),
    "snapshots/raw_history.sql": (
        "{% snapshot raw_history %}\n"
        "{{ config(unique_key='id', strategy='check', check_cols='all') }}\n"
        "select * from {{ ref('raw') }}\n{% endsnapshot %}"
    ),
}
# Parsed twice (the second reads the first's partial parse), built twice (incremental).
COMMANDS = (
    ["parse"],
    ["parse"],
    ["build"],
    ["build"],
    ["source", "freshness"],
    ["run-operation", "noop"],
)


def warm_up_dbt() -> None:
    """Run plain dbt in this process on a throwaway project; leave nothing of it behind."""
    from dbt.adapters.factory import reset_adapters
    from dbt.cli.main import dbtRunner
    from dbt.flags import get_flags, set_flags
    from dbt_common.events.event_manager_client import cleanup_event_logger

    folder = Path(tempfile.mkdtemp(prefix="orc-warm-up-"))
    cwd, environ, flags = os.getcwd(), dict(os.environ), get_flags()
    try:
        for name, text in FILES.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text)
        os.chdir(folder)
        # Nothing that starts dbt's Rust extractor (its static parser, unit tests): its thread
        # pool would be the forks', which lack its threads, and wait on them forever.
        os.environ.update(
            {"DBT_PROFILES_DIR": str(folder), "DO_NOT_TRACK": "1", "DBT_STATIC_PARSER": "false"}
        )
        for command in COMMANDS:
            result = dbtRunner().invoke([*command, "--quiet"])
            if not result.success:
                raise RuntimeError(f"warming dbt up: dbt {' '.join(command)} failed")
    finally:
        reset_adapters()  # first: it closes the connections, then the database can close
        _close_duckdb()
        cleanup_event_logger()
        set_flags(flags)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        shutil.rmtree(folder, ignore_errors=True)
    tasks = Path("/proc/self/task")  # Linux: every thread, native ones too
    threads = len(list(tasks.iterdir())) if tasks.exists() else 1
    if threads != 1:
        raise RuntimeError(f"warming dbt up left {threads - 1} threads that forks would lack")


def _close_duckdb() -> None:
    """Close the database dbt-duckdb shares between the connections of a process."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()
    gc.collect()  # the database's threads end with its last cursor, the log with its handler
