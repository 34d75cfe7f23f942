"""The one place that talks to dbt-core: parse, select, query the warehouse, build.

dbt runs in-process through `dbtRunner`. The project is parsed once; every later
step reuses that manifest. Nothing here writes to the user's project files.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from dbt.adapters.factory import get_adapter_by_type
from dbt.cli.main import cli, dbtRunner, dbtRunnerResult
from dbt.contracts.graph.manifest import Manifest
from dbt.node_types import NodeType

from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.planner import BuildAfter, Node
from orchestra_dbt_py.state.document import parse_timestamp

PERIOD_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
# Selection parameters of the user's command: orc computes the selection with them once,
# then replaces them by a selection of exactly the nodes that must run.
SELECTION_PARAMS = (
    "select",
    "exclude",
    "selector",
    "resource_types",
    "exclude_resource_types",
    "indirect_selection",
)
# Parameters that make dbt build relations with only part of their data.
PARTIAL_DATA_PARAMS = ("empty", "sample", "event_time_start", "event_time_end")
# The subcommands orc plans; every other one passes through to dbt unchanged.
STATEFUL_SUBCOMMANDS = frozenset({"build", "run", "test"})
# What `dbt build|run|test` would execute, as `dbt ls --resource-type` names.
# ("function" nodes exist from dbt-core 1.11 on; older releases reject the name.)
_NODE_TYPES = frozenset(str(node_type.value) for node_type in NodeType)
RESOURCE_TYPES_BY_COMMAND = {
    command: tuple(name for name in names if name in _NODE_TYPES)
    for command, names in {
        "build": ("model", "seed", "snapshot", "test", "unit_test", "function"),
        "run": ("model",),
        "test": ("test", "unit_test"),
    }.items()
}
# Adapters whose table and view materializations drop dependent views (drop ... cascade).
ADAPTERS_DROPPING_DEPENDENT_VIEWS = frozenset({"postgres", "redshift"})

EventCallback = Callable[[Any], None]
FRESHNESS_MACRO = "macro.orchestra_dbt.source_freshness"
# Tells the package's state hooks that orc records this run itself (macros/state_table.sql).
RECORDER_ENV = "ORCHESTRA_DBT_RECORDER"
PACKAGE_MISSING = (
    "the orchestra_dbt dbt package is not installed in this project: add it to "
    "packages.yml and run `orc dbt deps`"
)


@dataclass(frozen=True)
class DbtCommand:
    """A parsed `dbt ...` command line."""

    args: tuple[str, ...]
    subcommand: str | None
    # Parameters the user gave on the command line, as dbt's click parser read them.
    params: Mapping[str, Any]

    @property
    def full_refresh(self) -> bool:
        return bool(self.params.get("full_refresh"))

    @property
    def partial_data_flags(self) -> list[str]:
        """Flags under which dbt builds relations with partial data (never to be reused)."""
        return [f"--{p.replace('_', '-')}" for p in PARTIAL_DATA_PARAMS if self.params.get(p)]


def parse_command(args: Sequence[str]) -> DbtCommand:
    """Read a dbt command line the way dbt does, without running anything.

    A command line dbt would reject (or `--help`) yields no subcommand, so that it
    passes through to dbt, which reports it as usual.
    """
    try:
        root = cli.make_context(cli.name or "dbt", list(args))
        with warnings.catch_warnings():
            # Click 8.2+ deprecates `protected_args` (the subcommand's name); Click 9 will
            # leave everything in `args`.
            warnings.simplefilter("ignore", DeprecationWarning)
            protected = list(getattr(root, "protected_args", ()))
        name, command, rest = cli.resolve_command(root, [*protected, *root.args])
        if command is None or name is None:
            return DbtCommand(tuple(args), None, {})
        sub = command.make_context(name, list(rest), parent=root)
    except (click.exceptions.ClickException, click.exceptions.Exit):
        return DbtCommand(tuple(args), None, {})
    params = {
        key: value
        for ctx in (root, sub)
        for key, value in ctx.params.items()
        if ctx.get_parameter_source(key) == ParameterSource.COMMANDLINE
    }
    return DbtCommand(tuple(args), name, params)


def exit_code(result: dbtRunnerResult) -> int:
    """dbt's own exit codes: 0 success, 1 a node failed, 2 usage or runtime error."""
    if result.success:
        return 0
    return 2 if result.exception is not None else 1


def run_dbt(args: Sequence[str]) -> int:
    """Run dbt exactly as `dbt <args>` would and return its exit code."""
    result = dbtRunner().invoke(list(args))
    if result.exception is not None and type(result.exception).__name__ == "DbtUsageException":
        click.echo(f"Error: {result.exception}", err=True)
    return exit_code(result)


class DbtSession:
    """A parsed project and its warehouse connection, for one `orc` invocation."""

    def __init__(self, command: DbtCommand) -> None:
        self.command = command
        # Parameters every invocation shares with the user's command (project, profile,
        # target, vars, threads, logging...), but not the user's selection.
        self._shared = {
            key: value for key, value in command.params.items() if key in _accepted_params("parse")
        }
        self.manifest = self._parse()
        adapter_type = self.manifest.metadata.adapter_type
        if not adapter_type:
            raise OrcError("dbt parsed the project but reported no adapter; check profiles.yml")
        self.adapter_type: str = adapter_type

    @property
    def adapter(self) -> Any:
        # Every dbt invocation registers a fresh adapter: always ask for the current one.
        return get_adapter_by_type(self.adapter_type)

    @property
    def config(self) -> Any:
        return self.adapter.config

    @property
    def target_dir(self) -> Path:
        return Path(self.config.project_root) / self.config.target_path

    @property
    def threads(self) -> int:
        return max(1, int(self.config.threads or 1))

    @property
    def replacing_drops_dependent_views(self) -> bool:
        return self.adapter_type in ADAPTERS_DROPPING_DEPENDENT_VIEWS

    def _parse(self) -> Manifest:
        result = dbtRunner().invoke(["parse"], **{**self._shared, "quiet": True})
        if not result.success or not isinstance(result.result, Manifest):
            raise OrcError(
                "dbt could not parse the project: "
                f"{_one_line(result.exception) if result.exception else 'see the errors above'}",
                exit_code=2,
            )
        return result.result

    def _invoke(
        self, args: list[str], callbacks: Sequence[EventCallback] = (), **params: Any
    ) -> dbtRunnerResult:
        runner = dbtRunner(manifest=self.manifest, callbacks=list(callbacks))
        return runner.invoke(args, **params)

    def selected_ids(self) -> list[str]:
        """The nodes the user's command would run, as dbt itself selects them."""
        subcommand = self.command.subcommand or "build"
        selection = {k: v for k, v in self.command.params.items() if k in SELECTION_PARAMS}
        if "resource_types" not in selection:
            selection["resource_types"] = RESOURCE_TYPES_BY_COMMAND[subcommand]
        args = ["ls", "--output", "json", "--output-keys", "unique_id"]
        result = self._invoke(args, **{**self._shared, **selection, "log_level": "none"})
        if not result.success or not isinstance(result.result, list):
            raise OrcError(f"dbt could not resolve the selection: {result.exception}")
        ids = [json.loads(line)["unique_id"] for line in result.result]
        return [uid for uid in ids if uid in self._runnable]

    @property
    def _runnable(self) -> dict[str, Any]:
        """The nodes dbt can run, by unique id: manifest nodes and unit tests."""
        return {**self.manifest.nodes, **self.manifest.unit_tests}

    def graph(self, fingerprints: Mapping[str, str]) -> dict[str, Node]:
        """The manifest reduced to the planner's plain nodes."""
        nodes: dict[str, Node] = {}
        for uid, source in self.manifest.sources.items():
            nodes[uid] = Node(uid, "source", relation=source.relation_name, name=source.name)
        for uid, node in self.manifest.nodes.items():
            materialized = getattr(node.config, "materialized", None)
            nodes[uid] = Node(
                unique_id=uid,
                resource_type=str(node.resource_type),
                materialized=materialized,
                parents=tuple(getattr(node.depends_on, "nodes", ())),
                relation=_relation_name(node),
                fingerprint=fingerprints.get(uid),
                build_after=_build_after(node),
                name=node.name,
            )
        for uid, unit_test in self.manifest.unit_tests.items():
            parents = tuple(unit_test.depends_on.nodes)
            nodes[uid] = Node(
                unique_id=uid,
                resource_type="unit_test",
                parents=parents,
                fingerprint=_unit_test_fingerprint(
                    unit_test, [fingerprints.get(p) for p in parents]
                ),
                name=unit_test.name,
            )
        return nodes

    def measure_freshness(
        self, source_ids: Iterable[str]
    ) -> tuple[dict[str, datetime | None], dict[str, str]]:
        """Each source's latest data time through the package macro (None when it cannot be
        measured), and the error of each source whose measurement failed."""
        ids = sorted(source_ids)
        if not ids:
            return {}, {}
        if FRESHNESS_MACRO not in self.manifest.macros:
            raise OrcError(PACKAGE_MISSING)
        adapter = self.adapter
        errors: dict[str, str] = {}

        def measure(uid: str) -> datetime | None:
            source = self.manifest.sources[uid]
            relation = adapter.Relation.create_from(adapter.config, source)
            freshness = getattr(source, "freshness", None)
            kwargs = {
                "relation": relation,
                "loaded_at_field": getattr(source, "loaded_at_field", None),
                "loaded_at_query": getattr(source, "loaded_at_query", None),
                "filter": getattr(freshness, "filter", None) if freshness else None,
                "external_location": getattr(relation, "external", None),
            }
            try:
                with adapter.connection_named(f"orc_freshness_{uid}"):
                    value = adapter.execute_macro(
                        "source_freshness", project="orchestra_dbt", kwargs=kwargs
                    )
                return _as_utc(value)
            except Exception as error:  # unmeasured: its readers are rebuilt, and orc says why
                errors[uid] = _one_line(error)
                return None

        try:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                return dict(zip(ids, pool.map(measure, ids), strict=True)), errors
        finally:
            adapter.cleanup_connections()

    def call_package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any:
        """Run a macro of the orchestra_dbt package on its own connection of this thread
        (the state table's reads and writes, which commit themselves)."""
        if f"macro.orchestra_dbt.{name}" not in self.manifest.macros:
            if FRESHNESS_MACRO in self.manifest.macros:
                raise OrcError(
                    f"the installed orchestra_dbt dbt package has no {name} macro: update it "
                    "to this orc's version and run `orc dbt deps`"
                )
            raise OrcError(PACKAGE_MISSING)
        adapter = self.adapter
        with adapter.connection_named("orc_state"):
            return adapter.execute_macro(name, project="orchestra_dbt", kwargs=dict(kwargs))

    def table_exists(self, database: str | None, schema: str, identifier: str) -> bool:
        """Whether the warehouse has this table now (asked directly, not dbt's cache).
        Names compare without regard to case; `database` defaults to the target's."""
        adapter = self.adapter
        database = database or adapter.config.credentials.database
        with adapter.connection_named("orc_state"):
            listed = adapter.list_relations_without_caching(
                adapter.Relation.create(database=database, schema=schema)
            )
        return any(
            (relation.schema or "").lower() == schema.lower()
            and (relation.identifier or "").lower() == identifier.lower()
            for relation in listed
        )

    def hook_fingerprints(self, node_ids: Collection[str]) -> dict[str, str | None]:
        """The fingerprint the package's on-run-end hook would record for each node now."""
        if not node_ids:
            return {}
        if not self.manifest.flat_graph:
            self.manifest.build_flat_graph()
        found = self.call_package_macro("hook_fingerprints", {"unique_ids": sorted(node_ids)})
        return {uid: (str(found[uid]) if found.get(uid) else None) for uid in node_ids}

    def existing_relations(self, nodes: Iterable[Node]) -> set[str]:
        """The lower-cased relation names, among those of `nodes`, that exist in the warehouse."""
        schemas: dict[tuple[str | None, str], None] = {}
        for node in nodes:
            manifest_node = self.manifest.nodes.get(node.unique_id)
            if manifest_node is not None and node.relation:
                schemas[(manifest_node.database, manifest_node.schema)] = None

        adapter = self.adapter

        def list_schema(key: tuple[str | None, str]) -> list[str]:
            database, schema = key
            with adapter.connection_named(f"orc_relations_{database}_{schema}"):
                schema_relation = adapter.Relation.create(database=database, schema=schema)
                return [
                    relation.render().lower()
                    for relation in adapter.list_relations_without_caching(schema_relation)
                ]

        try:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                return {name for names in pool.map(list_schema, schemas) for name in names}
        except Exception as error:
            raise OrcError(
                f"listing relations in the warehouse failed: {_one_line(error)}"
            ) from error
        finally:
            adapter.cleanup_connections()

    def run(
        self, node_ids: Collection[str], callbacks: Sequence[EventCallback] = ()
    ) -> dbtRunnerResult:
        """Run the user's command on exactly `node_ids`, leaving every project file untouched."""
        tag = f"orc_run_{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        runnable = self._runnable
        tagged = [runnable[uid] for uid in node_ids]
        for node in tagged:
            node.tags.append(tag)
        selection: dict[str, Any] = {
            "select": (f"tag:{tag}",),
            "exclude": (),
            "selector": None,
            "indirect_selection": "empty",
        }
        if self.command.subcommand == "build":
            selection["resource_types"] = ()
            selection["exclude_resource_types"] = ()
        previous = os.environ.get(RECORDER_ENV)
        os.environ[RECORDER_ENV] = "orc"
        try:
            return self._invoke(list(self.command.args), callbacks, **selection)
        finally:
            if previous is None:
                os.environ.pop(RECORDER_ENV, None)
            else:
                os.environ[RECORDER_ENV] = previous
            for node in tagged:
                if tag in node.tags:
                    node.tags.remove(tag)


def _accepted_params(subcommand: str) -> set[str]:
    command = cli.commands[subcommand]
    return {p.name for p in [*cli.params, *command.params] if p.name}


def _unit_test_fingerprint(unit_test: Any, parent_fingerprints: list[str | None]) -> str | None:
    """A unit test's definition (fixtures and expectations) plus its model's fingerprint."""
    if not parent_fingerprints or None in parent_fingerprints:
        return None
    definition = {
        key: value
        for key, value in unit_test.to_dict().items()
        if key not in {"created_at", "tags", "unrendered_config_call_dict"}
    }
    payload = json.dumps([definition, parent_fingerprints], sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _relation_name(node: Any) -> str | None:
    name = getattr(node, "relation_name", None)
    return str(name) if name else None


def _build_after(node: Any) -> BuildAfter | None:
    freshness = getattr(node.config, "freshness", None)
    build_after = getattr(freshness, "build_after", None) if freshness else None
    if build_after is None:
        return None
    count, period = getattr(build_after, "count", None), getattr(build_after, "period", None)
    if not count or period is None:
        return None
    seconds = PERIOD_SECONDS.get(str(getattr(period, "value", period)))
    if seconds is None:
        return None
    updates_on = str(getattr(getattr(build_after, "updates_on", None), "value", "any") or "any")
    return BuildAfter(
        timedelta(seconds=int(count) * seconds), "all" if updates_on == "all" else "any"
    )


def _as_utc(value: Any) -> datetime | None:
    """The macro's answer as an aware UTC time (naive times are UTC, as dbt reads them)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return parse_timestamp(value)
    if not isinstance(value, datetime):
        raise OrcError(f"the source_freshness macro returned {type(value).__name__}, not a time")
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())
