"""Definition fingerprints on a real dbt project: change one thing, see exactly who changes.

Each test copies tests/projects/fingerprint/ into its own directory, edits the copy, parses it
in-process with dbt (DuckDB, no partial parsing) and compares the fingerprints with those of
the pristine project, parsed once per module in another directory (so a fingerprint that
depended on where the project lives would show up everywhere).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.core.graph import BuildAfter
from orchestra_dbt_py.dbt.graph import plain_nodes
from orchestra_dbt_py.fingerprint import fingerprint_definitions, project_settings, vars_provider

TEMPLATES = Path(__file__).resolve().parents[1] / "projects" / "fingerprint"
REPO_ROOT = Path(__file__).resolve().parents[2]

P = "fp_proj"
STG_ORDERS = f"model.{P}.stg_orders"
STG_CUSTOMERS = f"model.{P}.stg_customers"
EPH = f"model.{P}.eph_big_orders"
BIG_ORDERS = f"model.{P}.big_orders"
VAR_DIRECT = f"model.{P}.var_direct"
VAR_MACRO = f"model.{P}.var_macro"
ENV_READER = f"model.{P}.env_reader"
EXEC_ONLY = f"model.{P}.exec_only"
DISPATCHER = f"model.{P}.dispatcher"
FROM_PACKAGE = f"model.{P}.from_package"
FROM_SOURCE = f"model.{P}.from_source"
CONFIGURED = f"model.{P}.configured"
PY_MODEL = f"model.{P}.py_model"
SHADE = f"model.{P}.shade"
TARGET_READER = f"model.{P}.target_reader"
REP_A = f"model.{P}.rep_a"
REP_B = f"model.{P}.rep_b"
RAW_CUSTOMERS = f"seed.{P}.raw_customers"
ACCEPTED_VALUES = f"test.{P}.accepted_values_stg_orders_status"

# Env vars the fixture reads; cleared for every parse unless a test sets them.
FIXTURE_ENV = ("FP_COLOR", "FP_SHADE")


@dataclass
class Parsed:
    manifest: Any
    fingerprints: dict[str, str]
    vars_for_package: Any
    settings: dict[str, Any]
    parts: dict[str, dict[str, str]]


@dataclass
class Project:
    """A copy of the fixture project in its own directory."""

    root: Path

    @property
    def project_dir(self) -> Path:
        return self.root / "project"

    @classmethod
    def create(cls, root: Path, schema: str = "main") -> Project:
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(TEMPLATES / "project", root / "project")
        # Installed the way `dbt deps` installs a local package, without running it.
        shutil.copytree(TEMPLATES / "fp_pkg", root / "project" / "dbt_packages" / "fp_pkg")
        project = cls(root)
        project.write_profile(schema)
        return project

    def write_profile(self, schema: str) -> None:
        """Targets `dev` (the default, in `schema`) and `prod` (schema `analytics`)."""
        outputs = "".join(
            f"    {name}:\n"
            "      type: duckdb\n"
            f"      path: {json.dumps(str(self.root / 'fp.duckdb'))}\n"
            f"      schema: {in_schema}\n"
            for name, in_schema in (("dev", schema), ("prod", "analytics"))
        )
        (self.root / "profiles.yml").write_text(f"fp_proj:\n  target: dev\n  outputs:\n{outputs}")

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.project_dir / relative
        text = path.read_text()
        assert text.count(old) == 1, f"{old!r} should occur once in {relative}"
        path.write_text(text.replace(old, new))

    def append(self, relative: str, text: str) -> None:
        path = self.project_dir / relative
        path.write_text(path.read_text() + text)

    def parse(
        self,
        cli_vars: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        target: str | None = None,
    ) -> Parsed:
        """Parse the copy; with `target`, for that target, fingerprinted with its
        attributes as orc does."""
        from dbt.adapters.factory import get_adapter_by_type
        from dbt.cli.main import dbtRunner
        from dbt.contracts.graph.manifest import Manifest

        args = [
            "parse",
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.root),
            "--target-path",
            str(self.root / "target"),
            "--log-path",
            str(self.root / "logs"),
            "--no-partial-parse",
            "--no-write-json",
            "--quiet",
        ]
        if cli_vars is not None:
            args += ["--vars", json.dumps(dict(cli_vars))]
        if target is not None:
            args += ["--target", target]
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DO_NOT_TRACK", "1")
            for name in FIXTURE_ENV:
                patch.delenv(name, raising=False)
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            result = dbtRunner().invoke(args)
            assert result.success, result.exception
            manifest = result.result
            assert isinstance(manifest, Manifest)
            config = get_adapter_by_type("duckdb").config
            provider = vars_provider(config)
            settings = project_settings(config)
            definitions = fingerprint_definitions(
                manifest,
                vars_for_package=provider,
                env=dict(os.environ),
                adapter_type="duckdb",
                target=None if target is None else config.to_target_dict(),
            )
        return Parsed(manifest, definitions.fingerprints, provider, settings, definitions.parts)


def changed(before: Mapping[str, str], after: Mapping[str, str]) -> set[str]:
    """Nodes whose fingerprint differs, appeared or disappeared."""
    return {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return Project.create(tmp_path_factory.mktemp("baseline")).parse().fingerprints


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield Project.create(tmp_path / "copy")


# -- the fixture itself ---------------------------------------------------------------------


def test_every_model_seed_snapshot_and_test_has_a_fingerprint(baseline: dict[str, str]) -> None:
    kinds = {key.split(".")[0] for key in baseline}
    assert kinds == {"model", "seed", "snapshot", "test"}
    assert len(baseline) == 23
    assert all(len(value) == 64 and int(value, 16) >= 0 for value in baseline.values())
    assert len(set(baseline.values())) == len(baseline)


def test_same_project_elsewhere_gives_the_same_fingerprints(
    project: Project, baseline: dict[str, str]
) -> None:
    assert project.parse().fingerprints == baseline


def test_fingerprints_do_not_depend_on_the_process(
    project: Project, baseline: dict[str, str]
) -> None:
    # Another interpreter with another hash seed: nothing may depend on set ordering.
    script = f"""
import json, os
from dbt.adapters.factory import get_adapter_by_type
from dbt.cli.main import dbtRunner
from orchestra_dbt_py.fingerprint import fingerprint_definitions, vars_provider
root = {str(project.root)!r}
result = dbtRunner().invoke([
    "parse", "--project-dir", root + "/project", "--profiles-dir", root,
    "--target-path", root + "/target", "--log-path", root + "/logs",
    "--no-partial-parse", "--no-write-json", "--quiet",
])
assert result.success, result.exception
fingerprints = fingerprint_definitions(
    result.result,
    vars_for_package=vars_provider(get_adapter_by_type("duckdb").config),
    env=dict(os.environ),
    adapter_type="duckdb",
).fingerprints
print(json.dumps(fingerprints))
"""
    env = {k: v for k, v in os.environ.items() if k not in FIXTURE_ENV}
    env.update(DO_NOT_TRACK="1", PYTHONHASHSEED="12345")
    completed = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=project.root,
        timeout=300,
    )
    assert json.loads(completed.stdout.strip().splitlines()[-1]) == baseline


def test_node_ids_limits_the_work(project: Project, baseline: dict[str, str]) -> None:
    parsed = project.parse()
    provider = parsed.vars_for_package
    subset = fingerprint_definitions(
        parsed.manifest,
        vars_for_package=provider,
        env={},
        adapter_type="duckdb",
        node_ids=[BIG_ORDERS, RAW_CUSTOMERS],
    ).fingerprints
    assert subset == {BIG_ORDERS: baseline[BIG_ORDERS], RAW_CUSTOMERS: baseline[RAW_CUSTOMERS]}
    with pytest.raises(KeyError):
        fingerprint_definitions(
            parsed.manifest,
            vars_for_package=provider,
            env={},
            adapter_type="duckdb",
            node_ids=["model.fp_proj.no_such_model"],
        )


# -- edits that must not count ---------------------------------------------------------------


def test_comment_only_edits_change_nothing(project: Project, baseline: dict[str, str]) -> None:
    project.edit(
        "models/staging/stg_customers.sql",
        "-- Customers, one row each.",
        "-- Customers: one row per customer.\n/* reviewed */\n{# owner: data team #}",
    )
    project.edit("models/staging/stg_customers.sql", "-- the display name", "-- shown in apps")
    project.edit("macros/fp_to_dollars.sql", "    ({{ column }}", "    -- cents\n    ({{ column }}")
    project.edit(
        "macros/fp_exec_only_suffix.sql",
        "{# Called only",
        "{# This comment changed. Called only",
    )
    assert changed(baseline, project.parse().fingerprints) == set()


def test_whitespace_only_edits_change_nothing(project: Project, baseline: dict[str, str]) -> None:
    project.edit(
        "models/staging/stg_orders.sql",
        "select\n    id,\n    customer_id,",
        "select id,   customer_id ,\n\n",
    )
    project.edit("models/marts/big_orders.sql", "select id, amount", "select\n\tid,\n\tamount\n")
    project.edit("macros/fp_to_dollars.sql", "({{ column }} / 100.0)", "(  {{column}} / 100.0  )")
    assert changed(baseline, project.parse().fingerprints) == set()


def test_scheduling_and_documentation_edits_change_nothing(
    project: Project, baseline: dict[str, str]
) -> None:
    # Freshness policy, source freshness settings and descriptions (without persist_docs)
    # do not change what a node writes.
    project.edit("models/marts/_marts.yml", "{count: 1, period: hour}", "{count: 6, period: hour}")
    project.edit("models/staging/_staging.yml", "loaded_at_field: loaded_at", "loaded_at_field: ts")
    project.edit(
        "models/staging/_staging.yml", "{count: 1, period: day}", "{count: 2, period: day}"
    )
    project.edit("models/staging/_staging.yml", "One row per customer.", "Every customer once.")
    # dbt State's names for the same policies, and when to clone before building.
    project.edit(
        "models/marts/_marts.yml",
        "materialized: table",
        "materialized: table\n      state: {lag_tolerance: 4h, require_fresh_data_from: all, "
        "pre_clone: always}",
    )
    project.edit(
        "models/staging/_staging.yml",
        "owner: data-team",
        "owner: data-team\n        orchestra_dbt: {pre_clone: never, lag_tolerance: 1d}",
    )
    parsed = project.parse()
    assert changed(baseline, parsed.fingerprints) == set()
    assert plain_nodes(parsed.manifest, {})[STG_CUSTOMERS].pre_clone == "never"
    # dbt takes them as config; orc reads them, and its own build_after wins.
    configured = plain_nodes(parsed.manifest, {})[CONFIGURED]
    assert configured.pre_clone == "always"
    assert configured.build_after == BuildAfter(timedelta(hours=6))


def test_a_var_nobody_reads_changes_nothing(project: Project, baseline: dict[str, str]) -> None:
    assert changed(baseline, project.parse(cli_vars={"fp_unused": 2}).fingerprints) == set()


# -- edits that must count, and only where they matter ---------------------------------------


def test_sql_edit_changes_that_model_only(project: Project, baseline: dict[str, str]) -> None:
    project.edit("models/staging/stg_customers.sql", "    name  --", "    upper(name) as name  --")
    assert changed(baseline, project.parse().fingerprints) == {STG_CUSTOMERS}


def test_string_literal_edit_counts(project: Project, baseline: dict[str, str]) -> None:
    project.edit("macros/fp_exec_only_suffix.sql", "'suffix'", "'suffix  '")
    assert changed(baseline, project.parse().fingerprints) == {EXEC_ONLY}


def test_python_model_edit_changes_that_model_only(
    project: Project, baseline: dict[str, str]
) -> None:
    project.edit("models/marts/py_model.py", 'dbt.ref("stg_customers")', 'dbt.ref("stg_orders")')
    assert changed(baseline, project.parse().fingerprints) == {PY_MODEL}


def test_config_in_model_yml_changes_that_model_only(
    project: Project, baseline: dict[str, str]
) -> None:
    project.edit("models/marts/_marts.yml", "materialized: table", "materialized: view")
    assert changed(baseline, project.parse().fingerprints) == {CONFIGURED}


def test_folder_config_in_dbt_project_changes_that_folder(
    project: Project, baseline: dict[str, str]
) -> None:
    project.edit(
        "dbt_project.yml",
        "    reporting:\n      +materialized: view",
        "    reporting:\n      +materialized: table",
    )
    assert changed(baseline, project.parse().fingerprints) == {REP_A, REP_B}


def test_description_counts_when_persisted(project: Project) -> None:
    project.edit(
        "models/staging/_staging.yml",
        "      meta:\n        owner: data-team",
        "      meta:\n        owner: data-team\n      persist_docs:\n        relation: true",
    )
    before = project.parse().fingerprints
    project.edit("models/staging/_staging.yml", "One row per customer.", "Every customer once.")
    assert changed(before, project.parse().fingerprints) == {STG_CUSTOMERS}


@pytest.mark.parametrize(
    ("relative", "old", "new", "expected"),
    [
        # Called only under `{% if execute %}`: not in parse-time depends_on.macros.
        ("macros/fp_exec_only_suffix.sql", "'suffix'", "'other'", {EXEC_ONLY}),
        # Reached through adapter.dispatch('fp_fmt'): the duckdb implementation.
        ("macros/duckdb__fp_fmt.sql", "upper(", "trim(", {DISPATCHER}),
        ("macros/fp_fmt.sql", "lower(", "trim(", {DISPATCHER}),
        ("macros/fp_to_dollars.sql", "100.0", "100", {STG_ORDERS}),
        ("macros/fp_region_filter.sql", "= 'eu'", "= 'us'", {VAR_MACRO}),
    ],
    ids=["if-execute", "dispatch-duckdb", "dispatch-default", "plain", "var-reader"],
)
def test_macro_body_change_changes_its_callers(
    project: Project,
    baseline: dict[str, str],
    relative: str,
    old: str,
    new: str,
    expected: set[str],
) -> None:
    project.edit(relative, old, new)
    assert changed(baseline, project.parse().fingerprints) == expected


def test_parts_name_the_macro_that_changed(project: Project) -> None:
    before = project.parse().parts
    project.edit("macros/fp_to_dollars.sql", "100.0", "100")
    after = project.parse().parts
    assert changed(before[STG_ORDERS], after[STG_ORDERS]) == {"macro:fp_to_dollars"}
    # Project macros by name, package macros as package.name, dbt's own in one part.
    assert {n for n in after[DISPATCHER] if n.startswith("macro:")} == {
        "macro:fp_fmt",
        "macro:default__fp_fmt",
        "macro:duckdb__fp_fmt",
    }
    assert "macro:fp_pkg.fp_pkg_double" in after[FROM_PACKAGE]
    assert "dbt macros" in after[DISPATCHER]


def test_package_macro_change_changes_its_callers(
    project: Project, baseline: dict[str, str]
) -> None:
    path = project.project_dir / "dbt_packages" / "fp_pkg" / "macros" / "fp_pkg_double.sql"
    path.write_text(path.read_text().replace("* 2", "* 3"))
    assert changed(baseline, project.parse().fingerprints) == {FROM_PACKAGE}


def test_var_change_changes_its_readers(project: Project, baseline: dict[str, str]) -> None:
    # var_direct reads it in its SQL, var_macro through a macro.
    after = project.parse(cli_vars={"fp_region": "us"}).fingerprints
    assert changed(baseline, after) == {VAR_DIRECT, VAR_MACRO}


def test_var_value_equal_to_the_default_changes_nothing(
    project: Project, baseline: dict[str, str]
) -> None:
    assert changed(baseline, project.parse(cli_vars={"fp_region": "eu"}).fingerprints) == set()


def test_env_var_change_changes_its_reader(project: Project, baseline: dict[str, str]) -> None:
    red = project.parse(env={"FP_COLOR": "red"}).fingerprints
    assert changed(baseline, red) == {ENV_READER}
    green = project.parse(env={"FP_COLOR": "green"}).fingerprints
    assert changed(red, green) == {ENV_READER}


def test_env_var_read_inside_a_var_value_counts(project: Project, baseline: dict[str, str]) -> None:
    after = project.parse(env={"FP_SHADE": "dark"}).fingerprints
    assert changed(baseline, after) == {SHADE}


def test_env_var_values_are_not_in_the_payload(project: Project) -> None:
    from orchestra_dbt_py.fingerprint.canonical import canonical_json
    from orchestra_dbt_py.fingerprint.definitions import _Fingerprinter

    parsed = project.parse(env={"FP_COLOR": "s3cr3t-value"})
    builder = _Fingerprinter(
        parsed.manifest, parsed.vars_for_package, {"FP_COLOR": "s3cr3t-value"}, "duckdb", None
    )
    payload = canonical_json(builder.payload(parsed.manifest.nodes[ENV_READER]))
    assert "FP_COLOR" in payload
    assert "s3cr3t-value" not in payload


def test_target_attributes_count_for_their_readers_when_given(project: Project) -> None:
    parsed = project.parse()

    def fingerprints(target: dict[str, Any] | None) -> dict[str, str]:
        return fingerprint_definitions(
            parsed.manifest,
            vars_for_package=parsed.vars_for_package,
            env={},
            adapter_type="duckdb",
            target=target,
        ).fingerprints

    dev = fingerprints({"name": "dev", "threads": 1})
    assert changed(dev, fingerprints({"name": "prod", "threads": 1})) == {TARGET_READER}
    assert changed(dev, fingerprints({"name": "dev", "threads": 8})) == set()
    assert changed(fingerprints(None), parsed.fingerprints) == set()


def test_seed_file_change_changes_that_seed_only(
    project: Project, baseline: dict[str, str]
) -> None:
    project.append("seeds/raw_customers.csv", "3,Edsger\n")
    assert changed(baseline, project.parse().fingerprints) == {RAW_CUSTOMERS}


def test_two_targets_share_fingerprints_but_for_what_reads_the_target(project: Project) -> None:
    # dev and prod build into different schemas: the same code there has the same definition
    # (the record's relation tells the tables apart), except where the code reads the target
    # (`target.name`) or a source whose schema follows the target.
    project.edit("models/staging/_staging.yml", "schema: main", 'schema: "{{ target.schema }}"')
    # A table in the warehouse rather than files (whose location says no schema).
    project.edit("models/staging/_staging.yml", 'external_location: "events/*.csv"', "owner: x")
    dev, prod = project.parse(target="dev"), project.parse(target="prod")
    assert dev.manifest.nodes[STG_ORDERS].schema != prod.manifest.nodes[STG_ORDERS].schema
    assert dev.fingerprints.keys() == prod.fingerprints.keys()
    differ = changed(dev.fingerprints, prod.fingerprints)
    # A data test stays apart: nothing but its fingerprint tells where it stores failures.
    assert {uid for uid in differ if not uid.startswith("test.")} == {TARGET_READER, FROM_SOURCE}
    assert {uid for uid in dev.fingerprints if uid.startswith("test.")} <= differ
    assert "target:name" in prod.parts[TARGET_READER]
    assert {
        name
        for name in prod.parts[FROM_SOURCE]
        if dev.parts[FROM_SOURCE].get(name) != prod.parts[FROM_SOURCE][name]
    } == {"source:landing.events"}


def test_a_relation_set_in_config_counts(project: Project, baseline: dict[str, str]) -> None:
    # Moving a model by its config changes its definition (and its relation, which rule 1
    # of reuse compares with the record's): it is rebuilt, in its new place.
    project.edit(
        "models/marts/_marts.yml",
        "materialized: table",
        "materialized: table\n      alias: configured_v2\n      schema: marts",
    )
    after = project.parse()
    assert changed(baseline, after.fingerprints) == {CONFIGURED}
    assert {"config:alias", "config:schema"} <= set(after.parts[CONFIGURED])


def test_ephemeral_parent_change_reaches_its_child(
    project: Project, baseline: dict[str, str]
) -> None:
    project.edit("models/staging/eph_big_orders.sql", "amount > 5", "amount > 6")
    assert changed(baseline, project.parse().fingerprints) == {EPH, BIG_ORDERS}


def test_generic_test_argument_change_changes_that_test_only(
    project: Project, baseline: dict[str, str]
) -> None:
    project.edit("models/staging/_staging.yml", "[placed, shipped, returned]", "[placed, shipped]")
    difference = changed(baseline, project.parse().fingerprints)
    # The arguments are part of the test's unique id: the old id goes, a new one comes.
    assert len(difference) == 2
    assert all(node_id.startswith(ACCEPTED_VALUES) for node_id in difference)


def test_source_location_change_changes_its_readers(
    project: Project, baseline: dict[str, str]
) -> None:
    project.edit("models/staging/_staging.yml", '"events/*.csv"', '"events/*.parquet"')
    assert changed(baseline, project.parse().fingerprints) == {FROM_SOURCE}


def test_dispatch_search_order_counts_everywhere_when_settings_are_given(
    project: Project,
) -> None:
    def with_settings(parsed: Parsed) -> dict[str, str]:
        return fingerprint_definitions(
            parsed.manifest,
            vars_for_package=parsed.vars_for_package,
            env={},
            adapter_type="duckdb",
            settings=parsed.settings,
        ).fingerprints

    before = project.parse()
    project.append(
        "dbt_project.yml",
        "\ndispatch:\n  - macro_namespace: fp_proj\n    search_order: [fp_pkg, fp_proj]\n",
    )
    after = project.parse()
    assert after.settings["dispatch"] != before.settings["dispatch"]
    assert changed(with_settings(before), with_settings(after)) == set(before.fingerprints)


# -- vars as dbt sees them ----------------------------------------------------------------------


def test_vars_provider_follows_dbt_precedence(project: Project) -> None:
    provider = project.parse(cli_vars={"fp_region": "us", "fp_new": [1, 2]}).vars_for_package
    root = provider(P)
    assert root["fp_region"] == "us"  # --vars over dbt_project.yml
    assert root["fp_new"] == [1, 2]
    assert root["fp_unused"] == 1  # project var untouched by --vars
    assert root["fp_scoped"] == "project-scoped"  # scoped to this project
    package = provider("fp_pkg")
    assert package["fp_region"] == "us"  # global vars and --vars reach packages too
    assert "fp_scoped" not in package  # ... but not another package's scoped vars


def test_computed_reads_name_the_nodes_reading_by_computed_names(project: Project) -> None:
    def computed_reads() -> frozenset[str]:
        parsed = project.parse()
        return fingerprint_definitions(
            parsed.manifest,
            vars_for_package=parsed.vars_for_package,
            env={},
            adapter_type="duckdb",
        ).computed_reads

    assert computed_reads() == frozenset()
    project.edit("models/marts/var_direct.sql", 'var("fp_region")', 'var("fp_" ~ "region")')
    project.edit(
        "models/staging/eph_big_orders.sql",
        "amount > 5",
        "amount > {{ env_var('FP_' ~ 'X', '5') }}",
    )
    # The ephemeral model's SQL is inlined into its reader, which inherits its reads.
    assert computed_reads() == {VAR_DIRECT, EPH, BIG_ORDERS}
