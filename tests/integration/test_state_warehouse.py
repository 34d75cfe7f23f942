"""The warehouse state table (`state_file = "warehouse:<schema>.<table>"`) with real dbt on
real DuckDB files and a real PostgreSQL server.

Every test stages the `orchestra_dbt` package and its `integration_tests/` project in a
temporary directory, as tests/integration/test_package_macros.py does. That project runs the
package's hooks in every plain dbt build (on-run-start `observe_sources`, on-run-end
`record_run`; see integration_tests/dbt_project.yml) into `<schema>.orc_state`, next to
the models, and `orc` is pointed at the same table. Plain dbt and `orc` run as subprocesses.
Every check of what was stored reads the table itself (the duckdb module, psycopg2).

The models under test are in integration_tests/models/state_hooks/: two raw tables read as
sources with a loaded_at_field (an on-run-start hook creates them with fixed times), a view
and tables on them, a seed, a model reading a var, one using a macro, one that fails on
demand, data tests and a unit test, which the hook does not record, so orc runs it (and
builds its model) once after a hooked run. The package's own test nodes of the project
(it_events, it_empty_events and the assert_* tests) are built and recorded too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.hooked import (
    CUSTOMERS,
    CUSTOMERS_AT,
    DBT,
    HOOK_CHANGED,
    IT_RELATIONS,
    ORDERS,
    ORDERS_AT,
    PROBE,
    PROJECT,
    SH_RELATIONS,
    UNIT_TEST,
    UNIT_TEST_FORCES,
    HookedProject,
    all_nodes,
    moment,
    moments,
    name,
    recorded_nodes,
    stage,
    uid,
)
from tests.support.tutorial import ORC, TARGETS, postgres_available


def sources_read(project: HookedProject) -> dict[str, list[str]]:
    """The sources each node of the project reads itself, sorted, from the manifest of the
    last dbt command (none of them reads one through a view but the tests of sh_stg_orders)."""
    manifest = json.loads((project.dir / "target" / "manifest.json").read_text())
    return {
        name(unique_id): sorted(p for p in parents if p.startswith("source."))
        for unique_id, node in manifest["nodes"].items()
        for parents in [node.get("depends_on", {}).get("nodes", [])]
    }


def probe_readers(project: HookedProject) -> set[str]:
    """The nodes that read PROBE: orc rebuilds the hook's records of them."""
    return {node for node, sources in sources_read(project).items() if PROBE in sources}


def assert_data_versions(items: Mapping[str, dict[str, Any]]) -> None:
    """Each item the hook wrote carries the data version of every source it read (its
    loaded_at and what the warehouse reports besides) and, for a node whose relation holds
    data, the version of its table right after the build; views and tests have none. Items
    orc wrote are left alone."""
    tables = (SH_RELATIONS | IT_RELATIONS) - {"sh_stg_orders"}
    for node, item in items.items():
        if item.get("recorded_by") != "orchestra_dbt.record_run":
            continue
        versions = item["data_versions"]
        assert set(versions) == set(item["sources"]), node
        for source, version in versions.items():
            assert moment(version["loaded_at"]) == moment(item["sources"][source]), node
            if source in (ORDERS, CUSTOMERS):  # tables: the warehouse reports their versions
                assert set(version) - {"loaded_at"}, (node, version)
        if node in tables:
            assert item["version"], node  # both warehouses report a version of a table
            assert all(isinstance(value, str) for value in item["version"].values()), node
        else:
            assert "version" not in item, node


def built(decisions: Mapping[str, tuple[str, str]]) -> set[str]:
    return {node for node, (decision, _) in decisions.items() if decision == "build"}


def reused(decisions: Mapping[str, tuple[str, str]]) -> set[str]:
    return {node for node, (decision, _) in decisions.items() if decision == "reuse"}


# --- a plain hooked build, then orc --------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_plain_build_records_every_node_and_orc_reuses_them(tmp_path: Path, target: str) -> None:
    wh = stage(tmp_path, target, install=False)
    try:
        wh.dbt("deps")
        # No table yet: observe_sources creates it, in the models' schema, at the start of
        # the run; record_run must still find the run's observation at its end (the table
        # is not in the relation cache dbt filled before the hooks).
        assert not wh.exists(wh.table)
        wh.dbt("build")

        items = wh.items()
        assert set(items) == recorded_nodes(target)
        probing = probe_readers(wh)
        for node, item in items.items():
            assert item["fingerprint"].startswith("hook1:"), node
            assert item["recorded_by"] == "orchestra_dbt.record_run", node
            assert item["status"] == ("success" if node in SH_RELATIONS | IT_RELATIONS else "pass")
            assert item.get("unmeasured_sources", []) == ([PROBE] if node in probing else []), node
        at = {node: item["last_updated"] for node, item in items.items()}
        inputs = {
            "sh_stg_orders": ({ORDERS: ORDERS_AT}, {}),
            "sh_stg_customers": ({CUSTOMERS: CUSTOMERS_AT}, {}),
            "sh_regions": ({}, {}),
            # Through the view sh_stg_orders, whose data is the source's.
            "sh_order_totals": ({ORDERS: ORDERS_AT}, {uid("sh_stg_orders"): at["sh_stg_orders"]}),
            "sh_customer_regions": (
                {},
                {
                    uid("sh_stg_customers"): at["sh_stg_customers"],
                    uid("sh_regions"): at["sh_regions"],
                },
            ),
            "sh_fragile": ({}, {uid("sh_regions"): at["sh_regions"]}),
            "not_null_sh_stg_orders_order_id": (
                {ORDERS: ORDERS_AT},
                {uid("sh_stg_orders"): at["sh_stg_orders"]},
            ),
            "unique_sh_stg_customers_customer_id": (
                {},
                {uid("sh_stg_customers"): at["sh_stg_customers"]},
            ),
        }
        for node, (sources, upstream) in inputs.items():
            assert (items[node]["sources"], items[node]["upstream"]) == (sources, upstream), node
        assert_data_versions(items)
        relation = items["sh_stg_customers"]["relation"].replace('"', "")
        assert relation.endswith(f"{wh.schema}.sh_stg_customers")
        plain_data, plain_rows = wh.data(), wh.rows()

        decisions = wh.build()
        assert set(decisions) == all_nodes(target)
        assert built(decisions) == {"sh_customer_regions", UNIT_TEST} | probing
        assert decisions["sh_customer_regions"][1].startswith(UNIT_TEST_FORCES)
        assert wh.data() == plain_data
        # orc wrote what it built; every row the hook wrote for the rest is untouched.
        after = {row.key: row for row in wh.rows()}
        assert {name(key) for key in after} == all_nodes(target)
        assert [row for row in plain_rows if after[row.key] != row] == [
            row for row in plain_rows if name(row.key) in {"sh_customer_regions"} | probing
        ]
        (full,) = (
            row for key, row in after.items() if key.startswith(uid("sh_customer_regions") + "@")
        )
        fingerprint = json.loads(full.item)["fingerprint"]
        assert not fingerprint.startswith("hook")

        assert reused(wh.build()) == all_nodes(target)
    finally:
        wh.drop()


# --- orc first, then a hooked build (in which a model fails), then orc ----------------------------


def test_hooked_build_after_orc_keeps_the_table_readable_and_records_a_failed_model(
    wh: HookedProject,
) -> None:
    assert built(wh.build()) == all_nodes(wh.target)
    by_orc = wh.items()
    assert set(by_orc) == all_nodes(wh.target)
    assert [n for n, item in by_orc.items() if item["fingerprint"].startswith("hook")] == []

    # sh_fragile fails in this run: its row (orc's) is superseded by one that records only
    # the failure, so that it is rebuilt.
    wh.dbt("build", "--vars", "{sh_fail: true}", expect=1)
    items = wh.items()
    assert set(items) == all_nodes(wh.target)
    failed = items["sh_fragile"]
    assert failed["status"] == "error" and failed["checksum"] == ""
    assert "fingerprint" not in failed and "version" not in failed
    # The hook rewrote every other node it built, and left orc's unit test record alone.
    assert items[UNIT_TEST] == by_orc[UNIT_TEST]
    for node in recorded_nodes(wh.target) - {"sh_fragile"}:
        assert items[node]["fingerprint"].startswith("hook1:"), node
        assert moment(items[node]["last_updated"]) > moment(by_orc[node]["last_updated"]), node

    # orc reads every row; it rebuilds the failed model, and nothing else changed (orc's
    # unit test record still vouches for the unchanged model it tests).
    probing = probe_readers(wh)
    decisions = wh.build()
    assert built(decisions) == {"sh_fragile"} | probing
    assert decisions["sh_fragile"][1].startswith("its last build failed (status error at 20")
    after = wh.items()
    assert set(after) == all_nodes(wh.target)
    assert after["sh_fragile"]["status"] == "success"
    rebuilt = {"sh_fragile"} | probing
    assert {node: item for node, item in after.items() if node not in rebuilt} == {
        node: item for node, item in items.items() if node not in rebuilt
    }


# --- changes after a hooked run ------------------------------------------------------------------


def test_changes_after_a_hooked_run_are_rebuilt(wh: HookedProject) -> None:
    wh.dbt("build")
    probing = probe_readers(wh)

    # New data in one source, an edited model, and a new value of a var a model reads.
    wh.execute(
        f"insert into {wh.raw_schema}.sh_raw_customers "
        "values (3, 'Linus', 'ap', cast('2024-06-01 08:00:00' as timestamp))"
    )
    model = wh.dir / "models" / "state_hooks" / "sh_fragile.sql"
    model.write_text(model.read_text().replace("count(*) as", "count(*) + 100 as"))
    factor = ("--vars", "{sh_amount_factor: 3}")

    decisions = wh.build(*factor)
    by_orc = built(decisions)  # recorded by orc from now on
    assert by_orc - probing == {
        "sh_stg_customers",
        "unique_sh_stg_customers_customer_id",
        "sh_fragile",
        "sh_order_totals",
        "not_null_sh_order_totals_customer_id",
        # built once after every hooked run, with its unit test
        "sh_customer_regions",
        UNIT_TEST,
    }
    assert probing <= by_orc
    reason = decisions["sh_stg_customers"][1]
    assert reason.startswith(
        "source sh_raw.customers has data from 2024-06-01 08:00:00, newer than the "
        "2024-04-02 09:30:00 this was built from"
    ), reason
    assert decisions["sh_fragile"][1] == HOOK_CHANGED
    assert decisions["sh_order_totals"][1] == HOOK_CHANGED
    # What orc left in the warehouse is what a plain build makes of the same data and vars.
    ref = f"{wh.schema}_ref"
    wh.dbt(
        "build",
        "--target-path",
        "target_ref",
        *factor,
        ORC_IT_SCHEMA=ref,
        ORC_IT_RAW_SCHEMA=wh.raw_schema,
    )
    assert wh.data() == wh.data(ref)
    totals = wh.query(f"select customer_id, total_amount from {wh.schema}.sh_order_totals")
    assert sorted(totals) == [(1, 1050), (2, 120)]

    # An edited macro (the same labels, so the unit test still passes). The hook's
    # fingerprint covers every macro of the project: each node still recorded by the hook is
    # rebuilt, and with it whatever reads it. orc's own records of the nodes it just built
    # name only the macros they use: sh_stg_customers and its test are reused.
    macros = wh.dir / "macros" / "state_hooks.sql"
    macros.write_text(macros.read_text().replace("|| ' (' ||", "|| ' ' || '(' ||"))
    decisions = wh.build(*factor)
    assert reused(decisions) == {"sh_stg_customers", "unique_sh_stg_customers_customer_id"}
    for node in (SH_RELATIONS | IT_RELATIONS) - by_orc:
        assert decisions[node][1] == HOOK_CHANGED, node
    assert wh.data() == wh.data(ref)


def test_data_versions_of_hooked_runs(wh: HookedProject) -> None:
    """Changes a loaded_at maximum cannot see, after a hooked run: rows of a source updated
    in place and a table the hook built changed outside dbt. orc rebuilds what they touch
    and reuses the rest of the hook's records; once a hooked run has recorded the new data,
    orc reuses everything."""
    wh.dbt("build")
    assert_data_versions(wh.items())
    probing = probe_readers(wh)

    wh.execute(f"update {wh.raw_schema}.sh_raw_orders set amount = amount + 1 where id = 1")
    wh.execute(f"update {wh.schema}.sh_stg_customers set name = 'Ada L.' where customer_id = 1")
    decisions = wh.build()
    assert built(decisions) - probing == {
        # they read orders (the test through the view sh_stg_orders, which is reused)
        "sh_order_totals",
        "not_null_sh_order_totals_customer_id",
        "not_null_sh_stg_orders_order_id",
        # changed outside dbt, and what reads it
        "sh_stg_customers",
        "unique_sh_stg_customers_customer_id",
        "sh_customer_regions",
        UNIT_TEST,
    }
    assert probing <= built(decisions)
    changed = "source sh_raw.orders changed since this was built: "
    assert decisions["sh_order_totals"][1].startswith(changed), decisions["sh_order_totals"]
    assert "loaded_at" not in decisions["sh_order_totals"][1]
    assert decisions["sh_stg_customers"][1].startswith(
        "its table changed outside orc since its build at"
    )
    assert decisions["sh_stg_orders"][0] == "reuse"
    totals = wh.query(f"select customer_id, total_amount from {wh.schema}.sh_order_totals")
    assert sorted(totals) == [(1, 351), (2, 40)]
    names = wh.query(f"select name from {wh.schema}.sh_stg_customers where customer_id = 1")
    assert names == [("Ada",)]

    # Changed again, then recorded by a hooked run: nothing is left for orc to build but
    # what reads the source the hooks cannot measure.
    wh.execute(f"delete from {wh.raw_schema}.sh_raw_orders where id = 3")
    wh.dbt("build")
    assert_data_versions(wh.items())
    assert built(wh.build()) == probing
    totals = wh.query(f"select customer_id, total_amount from {wh.schema}.sh_order_totals")
    assert sorted(totals) == [(1, 351)]


# --- a hooked run without observe_sources --------------------------------------------------------


def test_hooked_run_without_observe_sources_rebuilds_source_readers(wh: HookedProject) -> None:
    project_file = wh.dir / "dbt_project.yml"
    hook = '  - "{{ orchestra_dbt.observe_sources() }}"\n'
    assert hook in project_file.read_text()
    project_file.write_text(project_file.read_text().replace(hook, ""))
    wh.dbt("build")

    readers = {
        "sh_stg_orders": [ORDERS],
        "sh_stg_customers": [CUSTOMERS],
        "sh_order_totals": [ORDERS],
        "not_null_sh_stg_orders_order_id": [ORDERS],
    }
    if wh.target == "duckdb":
        files = ("orders", "orders_path", "orders_read_csv")
        readers["assert_duckdb_file_sources_readable"] = [
            f"source.{PROJECT}.orc_it_files.{table}" for table in files
        ]
    readers.update({node: sources_read(wh)[node] for node in probe_readers(wh)})
    for node, item in wh.items().items():
        assert item["sources"] == {}, node
        assert item["data_versions"] == {}, node
        assert item.get("unmeasured_sources") == readers.get(node), node

    decisions = wh.build()
    assert built(decisions) == {
        *readers,
        "sh_stg_customers",
        "unique_sh_stg_customers_customer_id",
        "sh_order_totals",
        "not_null_sh_order_totals_customer_id",
        "sh_customer_regions",
        UNIT_TEST,
    } - {"sh_stg_orders"}
    # A view is reused whatever its sources: its data is always current.
    assert decisions["sh_stg_orders"][0] == "reuse"
    unknown = "source sh_raw.{} has no data version recorded for the last build"
    assert decisions["sh_stg_customers"][1] == unknown.format("customers")
    assert decisions["sh_order_totals"][1] == unknown.format("orders")
    # orc measured the sources itself and recorded them.
    assert moments(wh.items()["sh_order_totals"]["sources"]) == moments({ORDERS: ORDERS_AT})


# --- concurrent writers --------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(
    not postgres_available(), reason="needs PGHOST/PGPORT (make test starts a server)"
)
def test_concurrent_orc_and_hooked_runs_keep_every_row(tmp_path: Path) -> None:
    """Six orc processes and two hooked dbt builds, each on models of its own, write to one
    table at the same time."""
    wh = stage(tmp_path, "postgres")
    try:
        models = wh.dir / "models" / "state_hooks"
        count = 8
        properties = ["version: 2\nmodels:\n"]
        for i in range(1, count + 1):
            (models / f"sh_conc_{i}.sql").write_text(f"select {i} as id\n")
            properties.append(
                f"  - name: sh_conc_{i}\n"
                "    columns:\n"
                "      - name: id\n"
                "        data_tests: [not_null]\n"
            )
        (models / "_sh_conc.yml").write_text("".join(properties))
        wh.dbt("seed", "--select", "sh_regions")  # the schemas and the state table exist
        wh.dbt("parse")
        before = wh.rows()

        running = []
        for i in range(1, count + 1):
            # Each run has target and log folders of its own, starting from the parse above.
            (wh.dir / f"target_{i}").mkdir()
            shutil.copy(wh.dir / "target" / "partial_parse.msgpack", wh.dir / f"target_{i}")
            folders = ["--target-path", f"target_{i}", "--log-path", f"logs_{i}"]
            command = [str(ORC), "dbt", "build"] if i <= 6 else [str(DBT), "build"]
            running.append(
                subprocess.Popen(
                    [*command, "--select", f"sh_conc_{i}", *folders],
                    cwd=wh.dir,
                    env=wh.env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
        outputs = [proc.communicate(timeout=600)[0] for proc in running]
        for proc, output in zip(running, outputs, strict=True):
            assert proc.returncode == 0, output

        items = wh.items()
        written = {f"sh_conc_{i}" for i in range(1, count + 1)}
        written |= {f"not_null_sh_conc_{i}_id" for i in range(1, count + 1)}
        assert set(items) == written | {name(row.key) for row in before}
        by_hook = {n for n, item in items.items() if item["fingerprint"].startswith("hook1:")}
        assert by_hook & written == {
            "sh_conc_7",
            "sh_conc_8",
            "not_null_sh_conc_7_id",
            "not_null_sh_conc_8_id",
        }
    finally:
        wh.drop()


def test_concurrent_updates_on_one_session_keep_every_key(
    wh: HookedProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads write through one dbt session of one process (a DuckDB file has one
    writing process): each appends its keys, then supersedes them with newer records."""
    from dbt.adapters.factory import reset_adapters

    from orchestra_dbt_py.core.records import NodeRecord
    from orchestra_dbt_py.dbt.command import parse_command
    from orchestra_dbt_py.dbt.queries import Warehouse
    from orchestra_dbt_py.dbt.session import DbtSession
    from orchestra_dbt_py.state.table import WarehouseBackend

    for key, value in wh.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(wh.dir)
    start = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    writers = 8
    barrier = threading.Barrier(writers)

    def record(i: int, j: int, version: int) -> NodeRecord:
        return NodeRecord(
            last_updated=start + timedelta(minutes=version, seconds=i),
            fingerprint=f"fp-{i}-{j}-{version}",
            status="success",
        )

    session = DbtSession(parse_command(["parse"]))
    try:
        backend = WarehouseBackend(wh.table, lambda: Warehouse(session))
        assert backend.init()

        def write(i: int) -> None:
            barrier.wait()
            for version in (1, 2):
                backend.update({f"model.conc.m{i}_{j}": record(i, j, version) for j in range(3)})

        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
    finally:
        session.adapter.cleanup_connections()
        reset_adapters()

    rows = wh.rows()
    expected = {f"model.conc.m{i}_{j}": record(i, j, 2) for i in range(writers) for j in range(3)}
    assert sorted(row.key for row in rows) == sorted(expected)
    for row in rows:
        item = json.loads(row.item)
        assert item["fingerprint"] == expected[row.key].fingerprint
        assert moment(row.last_updated) == expected[row.key].last_updated


# --- the backend: orc state commands, a corrupt row, the account scope ---------------------------

ITEM = (
    '{"checksum": "", "fingerprint": "fp", "last_updated": "%s", "sources": {}, '
    '"status": "success", "upstream": {}}'
)


def insert(wh: HookedProject, key: str, at: str, item: str | None = None) -> None:
    text = (ITEM % at if item is None else item).replace("'", "''")
    wh.execute(f"insert into {wh.table} values ('{key}', 'node', '{at}', '{text}')")


def test_state_commands_and_a_corrupt_row(wh: HookedProject) -> None:
    where = f"warehouse:{wh.table}"
    # A missing table is an empty state, and reading it does not create it.
    assert wh.orc("state", "show").stdout.splitlines() == [f"0 records in {where}"]
    assert not wh.exists(wh.table)

    assert wh.orc("state", "init").stdout.splitlines() == [f"Created state at {where}"]
    assert wh.rows() == []
    insert(wh, uid("sh_stg_customers"), "2024-01-01T00:00:00.000000Z")
    insert(wh, uid("sh_stg_customers"), "2024-01-02T00:00:00.000000Z")
    insert(wh, uid("sh_fragile"), "2024-01-03T00:00:00.000000Z")
    stored = wh.rows()
    assert wh.orc("state", "init").stdout.splitlines() == [f"Kept the existing state at {where}"]
    assert wh.rows() == stored

    shown = wh.orc("state", "show").stdout.splitlines()
    assert shown[0] == f"2 records in {where}"
    assert [line.split()[:3] for line in shown[1:]] == [
        [uid("sh_fragile"), "built", "2024-01-03T00:00:00Z"],
        [uid("sh_stg_customers"), "built", "2024-01-02T00:00:00Z"],  # the newest row of the key
    ]

    # The model and its test are selected; only the model has rows, and all of them go.
    forgot = wh.orc("state", "forget", "--select", "sh_stg_customers")
    assert forgot.stdout.splitlines()[-1] == f"Forgot 1 of 2 selected nodes in {where}"
    assert wh.rows() == [row for row in stored if row.key == uid("sh_fragile")]

    # A corrupt row stops every reader with one line naming the table and the key.
    insert(wh, uid("sh_stg_orders"), "2024-01-04T00:00:00.000000Z", '{"last_updated": "2024-')
    stored = wh.rows()
    for command in (("state", "show"), ("dbt", "build")):
        failed = wh.orc(*command, expect=2)
        errors = [line for line in failed.stderr.splitlines() if "error" in line.lower()]
        assert len(errors) == 1, failed.stderr
        assert errors[0].startswith(f"orc: error: state table {where} has an invalid item ")
        assert repr(uid("sh_stg_orders")) in errors[0]
        if command[0] == "state":
            assert failed.stderr.count("\n") == 1, failed.stderr
    # ... and nothing is written over it, nor built.
    assert wh.rows() == stored
    assert not wh.exists(f"{wh.schema}.sh_fragile")


def test_integration_account_scopes_the_keys(wh: HookedProject) -> None:
    account = ("--vars", "{orchestra_integration_account_id: acct1}")
    wh.dbt("build", *account)
    manifest = json.loads((wh.dir / "target" / "manifest.json").read_text())
    nodes = {**manifest["nodes"], **manifest["unit_tests"]}

    def key(node: str) -> str:
        unique_id = next(u for u in nodes if name(u) == node)
        return f"acct1.{nodes[unique_id].get('relation_name') or unique_id}"

    hooked = {key(node) for node in recorded_nodes(wh.target)}
    assert {row.key for row in wh.rows()} == hooked
    assert key("sh_fragile").replace('"', "").endswith(f".{wh.schema}.sh_fragile")

    scoped = {"ORCHESTRA_INTEGRATION_ACCOUNT_ID": "acct1", "ORCHESTRA_LOCAL_RUN": "false"}
    probing = probe_readers(wh)
    assert built(wh.build(*account, env=scoped)) == {"sh_customer_regions", UNIT_TEST} | probing
    assert {row.key for row in wh.rows()} == hooked | {key(UNIT_TEST)}

    where = f"warehouse:{wh.table}"
    other = {**scoped, "ORCHESTRA_INTEGRATION_ACCOUNT_ID": "acct2"}
    assert wh.orc("state", "show", env=other).stdout.splitlines() == [f"0 records in {where}"]
