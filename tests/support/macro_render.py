"""Render the package's real macro files outside dbt, against a small fake context.

Used by tests/unit/test_macro_sql.py for the adapters that cannot run here
(Snowflake, BigQuery, Databricks) and for DuckDB's location parsing, and by
tests/unit/test_state_table_sql.py for the warehouse state table's SQL and hooks.

What is real:
  * the Jinja environment: dbt-common's `get_environment()` (dbt's sandboxed
    environment, macro name mangling, `do` and friends);
  * the macro sources: every `macros/**/*.sql` file of this repository, and
    dbt's own `collect_freshness*`, `run_query`, `escape_single_quotes` and
    `get_drop_sql` from the installed dbt global project, split into one template
    per macro the way dbt's macro parser does;
  * the relations: dbt-adapters' `BaseRelation`, configured with each
    warehouse's quoting, so they render as the warehouse would;
  * `modules`: the restricted module dicts dbt puts in the context;
  * `tojson`, `fromjson` and `local_md5`: dbt's own context functions;
  * `exceptions.raise_compiler_error`: raises dbt's `CompilationError`.

What is fake:
  * `adapter`: `dispatch` resolves `<adapter>__<name>`, then the adapter's
    parents, then `default__<name>`, within the requested namespace;
  * `statement` / `load_result` / (through the real `run_query`) queries:
    SQL is captured and each statement that fetches its result is answered
    with the next canned table;
  * `adapter.create_schema`, `adapter.commit` (logged with the statements, in
    order) and `adapter.get_relation` (answers from a set of existing tables);
  * `api.Relation.create`: the real `BaseRelation` with the warehouse's quoting;
  * `var`, `env_var`, `target`, `invocation_id`, `invocation_args_dict`, `graph`,
    `selected_resources`, `project_name`, `source`, `log` (silent) and `context` (the
    context itself);
  * `return`: raises `MacroReturn` carrying the value, and every macro call
    catches it, as dbt's macro generator does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from dbt.adapters.base.relation import BaseRelation
from dbt.adapters.contracts.relation import RelationType
from dbt.context.base import BaseContext, get_context_modules
from dbt.include.global_project import PACKAGE_PATH as DBT_GLOBAL_PROJECT_PATH
from dbt_common.clients.jinja import BlockTag, extract_toplevel_blocks, get_environment
from dbt_common.exceptions import CompilationError
from dbt_common.utils.jinja import get_dbt_macro_name

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE_NAME = "orchestra_dbt"
PACKAGE_MACRO_DIR = REPO_ROOT / "macros"

# dbt global-project files and the macros taken from each (None: all of them).
# `statement` itself is faked, so only `run_query` is taken from statement.sql.
GLOBAL_MACRO_FILES: Mapping[str, frozenset[str] | None] = {
    "macros/adapters/freshness.sql": None,
    "macros/etc/statement.sql": frozenset({"run_query"}),
    "macros/utils/escape_single_quotes.sql": None,
    "macros/relations/drop.sql": frozenset({"get_drop_sql", "default__get_drop_sql"}),
    "macros/relations/view/drop.sql": None,
    "macros/relations/table/drop.sql": None,
}

# Adapter type -> its parent adapter types, searched before `default`.
ADAPTER_PARENTS: Mapping[str, tuple[str, ...]] = {
    "databricks": ("spark",),
    "redshift": ("postgres",),
}


class MacroReturn(Exception):
    """Carries a macro's `return(...)` value up to the macro's caller."""

    def __init__(self, value: Any) -> None:
        super().__init__("macro return")
        self.value = value


def _macro_return(value: Any) -> None:
    raise MacroReturn(value)


@dataclass(frozen=True)
class MacroSource:
    package: str
    name: str
    sql: str


def _read_macros(path: Path, package: str, only: frozenset[str] | None = None) -> list[MacroSource]:
    blocks = extract_toplevel_blocks(
        path.read_text(encoding="utf-8"), allowed_blocks={"macro"}, collect_raw_data=False
    )
    macros = []
    for block in blocks:
        if not isinstance(block, BlockTag) or block.full_block is None:
            continue
        if only is None or block.block_name in only:
            macros.append(MacroSource(package=package, name=block.block_name, sql=block.full_block))
    return macros


def package_macro_files() -> list[Path]:
    """Every macro file of the package, in a stable order, as dbt finds them under
    `macro-paths` (subfolders included)."""
    return sorted(PACKAGE_MACRO_DIR.rglob("*.sql"))


@functools.cache
def package_macros() -> tuple[MacroSource, ...]:
    macros = tuple(
        macro for path in package_macro_files() for macro in _read_macros(path, PACKAGE_NAME)
    )
    names = [macro.name for macro in macros]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        # dbt refuses a package that defines a macro twice; so does this renderer.
        raise ValueError(f"macros defined more than once in {PACKAGE_MACRO_DIR}: {duplicates}")
    return macros


@functools.cache
def global_macros() -> tuple[MacroSource, ...]:
    root = Path(DBT_GLOBAL_PROJECT_PATH)
    return tuple(
        macro
        for relative, only in GLOBAL_MACRO_FILES.items()
        for macro in _read_macros(root / relative, "dbt", only)
    )


@functools.cache
def _compile(sql: str) -> jinja2.Template:
    return get_environment().from_string(sql)


@dataclass(frozen=True)
class MacroInfo:
    """The parts of dbt's parsed macro that `MacroGenerator.macro` exposes and macros read."""

    unique_id: str
    macro_sql: str


class RenderedMacro:
    """A macro callable from Python or Jinja, like dbt's MacroGenerator."""

    def __init__(self, source: MacroSource, context: dict[str, Any]) -> None:
        self.source = source
        self.name = source.name
        self.macro = MacroInfo(f"macro.{source.package}.{source.name}", source.sql)
        self._context = context

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Names used inside the macro are looked up in the shared context when
        # it runs, so every other macro is reached through a RenderedMacro.
        module = _compile(self.source.sql).make_module(vars=self._context)
        macro = getattr(module, get_dbt_macro_name(self.name))
        try:
            return macro(*args, **kwargs)
        except MacroReturn as returned:
            return returned.value

    def __repr__(self) -> str:
        return f"<macro {self.source.package}.{self.name}>"


@dataclass
class FakeTable:
    """The parts of an agate table the macros read."""

    column_names: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def table(columns: Sequence[str], *rows: Sequence[Any]) -> FakeTable:
    return FakeTable(tuple(columns), [tuple(row) for row in rows])


def single_value(value: Any, column: str = "value") -> FakeTable:
    return table([column], [value])


@dataclass
class FakeResult:
    """What dbt's `load_result(name)` gives: response, data and table."""

    table: FakeTable
    response: str = "OK"

    @property
    def data(self) -> list[tuple[Any, ...]]:
        return self.table.rows


@dataclass(frozen=True)
class Statement:
    """One `{% call statement(...) %}` as the macros issued it."""

    name: str | None
    sql: str
    fetch_result: bool
    auto_begin: bool


# (database, schema, identifier) of a table, as `adapter.get_relation` is asked for it.
TableKey = tuple[str | None, str | None, str | None]


@dataclass
class FakeWarehouse:
    """Captures every statement's SQL and answers the ones that fetch their result with
    canned tables, in order.

    `events` logs what reached the warehouse, in order: `("statement", sql)`,
    `("create_schema", relation)` and `("commit", "")`. `tables` are the tables that exist,
    for `adapter.get_relation`; `lookups` are the tables it was asked for. `table_details`
    gives some of them more than a table's defaults: another `type`, or the fields of the
    adapter's relation class (`is_delta` and `information` on Spark and Databricks).
    """

    answers: list[FakeTable] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    tables: set[TableKey] = field(default_factory=set)
    lookups: list[TableKey] = field(default_factory=list)
    table_details: dict[TableKey, dict[str, Any]] = field(default_factory=dict)
    _results: dict[str, FakeResult] = field(default_factory=dict)

    def statement(
        self,
        name: str | None = None,
        fetch_result: bool = False,
        auto_begin: bool = True,
        language: str = "sql",
        caller: Callable[[], str] | None = None,
    ) -> str:
        assert caller is not None, "statement() must be used as {% call statement(...) %}"
        sql = str(caller())
        self.queries.append(sql)
        self.statements.append(Statement(name, sql, fetch_result, auto_begin))
        self.events.append(("statement", sql))
        if fetch_result:
            if not self.answers:
                raise AssertionError(f"unexpected statement, no canned answer left:\n{sql}")
            answer = self.answers.pop(0)
        else:
            answer = FakeTable((), [])
        if name is not None:
            self._results[name] = FakeResult(answer)
        return ""

    def load_result(self, name: str) -> FakeResult | None:
        return self._results.get(name)

    def commit(self) -> None:
        self.events.append(("commit", ""))

    def create_schema(self, relation: BaseRelation) -> None:
        self.events.append(("create_schema", str(relation)))


class FakeRelationApi:
    """`api.Relation`: creates the adapter's relations, quoted as its warehouse quotes."""

    def __init__(self, adapter_type: str) -> None:
        self._type = adapter_type

    def create(
        self,
        database: str | None = None,
        schema: str | None = None,
        identifier: str | None = None,
        type: str | None = None,
        **kwargs: Any,
    ) -> BaseRelation:
        return warehouse_relation(self._type, database, schema, identifier, type=type, **kwargs)


@dataclass(frozen=True)
class FakeApi:
    Relation: FakeRelationApi


class FakeAdapter:
    """`adapter` as the macros use it: dispatch, quote, get_relation, create_schema,
    cache_added and commit (the last four through the fake warehouse)."""

    def __init__(
        self,
        adapter_type: str,
        namespaces: Mapping[str, Mapping[str, Callable[..., Any]]],
        warehouse: FakeWarehouse | None = None,
    ) -> None:
        self._type = adapter_type
        self._namespaces = namespaces
        self._warehouse = warehouse if warehouse is not None else FakeWarehouse()
        self.quote_character = "`" if adapter_type in {"bigquery", "databricks", "spark"} else '"'

    def type(self) -> str:
        return self._type

    def prefixes(self) -> tuple[str, ...]:
        return (self._type, *ADAPTER_PARENTS.get(self._type, ()), "default")

    def dispatch(self, macro_name: str, macro_namespace: str | None = None) -> Callable[..., Any]:
        packages = [macro_namespace] if macro_namespace else [PACKAGE_NAME, "dbt"]
        for package in packages:
            macros = self._namespaces.get(package, {})
            for prefix in self.prefixes():
                candidate = macros.get(f"{prefix}__{macro_name}")
                if candidate is not None:
                    return candidate
        raise LookupError(f"no implementation of {macro_name!r} for {self._type} in {packages}")

    def quote(self, identifier: str) -> str:
        return f"{self.quote_character}{identifier}{self.quote_character}"

    def get_relation(
        self, database: str | None, schema: str | None, identifier: str | None
    ) -> BaseRelation | None:
        key = (database, schema, identifier)
        self._warehouse.lookups.append(key)
        if key not in self._warehouse.tables:
            return None
        details = {"type": "table", **self._warehouse.table_details.get(key, {})}
        return warehouse_relation(self._type, database, schema, identifier, **details)

    def create_schema(self, relation: BaseRelation) -> None:
        self._warehouse.create_schema(relation)

    def cache_added(self, relation: BaseRelation) -> str:
        """dbt's relation cache learns of a relation: get_relation finds it from now on."""
        self._warehouse.tables.add((relation.database, relation.schema, relation.identifier))
        return ""

    def commit(self) -> None:
        self._warehouse.commit()


def _no_log(msg: str, info: bool = False) -> str:
    return ""


def _fake_current_timestamp() -> str:
    return "current_timestamp()"


def _raise_compiler_error(msg: str, node: Any = None) -> None:
    raise CompilationError(msg, node)


@dataclass(frozen=True)
class FakeExceptions:
    """`exceptions` as the macros use it."""

    raise_compiler_error: Callable[..., None] = _raise_compiler_error


_NOT_GIVEN: Any = object()

# The target's database when a test gives none: what each warehouse calls it.
DEFAULT_DATABASES: Mapping[str, str | None] = {
    "postgres": "analytics",
    "duckdb": "memory",
    "snowflake": "analytics",
    "bigquery": "my-project",
    "databricks": "main",
    "spark": None,  # dbt-spark has no database: schema is all there is
}


class MacroRenderer:
    """A fake dbt execution context for one adapter type.

    `answers` are the canned tables returned, in order, to the statements the
    macros run; `queries` holds the SQL they ran.
    """

    def __init__(
        self,
        adapter_type: str,
        answers: Iterable[FakeTable] = (),
        *,
        execute: bool = True,
        variables: Mapping[str, Any] | None = None,
        env_vars: Mapping[str, str] | None = None,
        target: Mapping[str, Any] | None = None,
        tables: Iterable[TableKey] = (),
        table_details: Mapping[TableKey, Mapping[str, Any]] | None = None,
        graph: Mapping[str, Any] | None = None,
        selected_resources: Sequence[str] = (),
        invocation_id: str = "11111111-2222-3333-4444-555555555555",
        invocation_args: Mapping[str, Any] | None = None,
        project_name: str = "my_project",
    ) -> None:
        self.adapter_type = adapter_type
        self.warehouse = FakeWarehouse(
            answers=list(answers),
            tables=set(tables),
            table_details={key: dict(value) for key, value in (table_details or {}).items()},
        )
        self.variables: dict[str, Any] = dict(variables or {})
        self.env_vars: dict[str, str] = dict(env_vars or {})
        self.graph: Mapping[str, Any] = graph if graph is not None else {"nodes": {}, "sources": {}}
        self.target: dict[str, Any] = {
            "name": "dev",
            "type": adapter_type,
            "database": DEFAULT_DATABASES.get(adapter_type, "analytics"),
            "schema": "dbt_dev",
            **(target or {}),
        }
        self.context: dict[str, Any] = {
            "execute": execute,
            "return": _macro_return,
            "modules": get_context_modules(),
            "statement": self.warehouse.statement,
            "load_result": self.warehouse.load_result,
            "current_timestamp": _fake_current_timestamp,
            "api": FakeApi(FakeRelationApi(adapter_type)),
            "exceptions": FakeExceptions(),
            "var": self._var,
            "env_var": self._env_var,
            "source": self._source,
            "target": self.target,
            "invocation_id": invocation_id,
            "invocation_args_dict": dict(invocation_args or {}),
            "graph": self.graph,
            "selected_resources": list(selected_resources),
            "project_name": project_name,
            "tojson": BaseContext.tojson,
            "fromjson": BaseContext.fromjson,
            "local_md5": BaseContext.local_md5,
            "log": _no_log,
        }
        self.context["context"] = self.context
        namespaces: dict[str, dict[str, Callable[..., Any]]] = {PACKAGE_NAME: {}, "dbt": {}}
        for source in (*package_macros(), *global_macros()):
            namespaces[source.package][source.name] = RenderedMacro(source, self.context)
        namespaces["dbt"]["current_timestamp"] = _fake_current_timestamp
        self.namespaces = namespaces
        self.adapter = FakeAdapter(adapter_type, namespaces, self.warehouse)
        self.context["adapter"] = self.adapter
        self.context[PACKAGE_NAME] = namespaces[PACKAGE_NAME]
        self.context["dbt"] = namespaces["dbt"]
        # dbt's global macros are also reachable by their bare names.
        for name, macro in namespaces["dbt"].items():
            self.context.setdefault(name, macro)

    @property
    def queries(self) -> list[str]:
        return self.warehouse.queries

    def call(self, macro_name: str, *args: Any, package: str = PACKAGE_NAME, **kwargs: Any) -> Any:
        return self.namespaces[package][macro_name](*args, **kwargs)

    def source_freshness(self, relation: Any, **kwargs: Any) -> Any:
        return self.call("source_freshness", relation, **kwargs)

    def _var(self, name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in self.variables:
            return self.variables[name]
        if default is _NOT_GIVEN:
            raise CompilationError(f"Required var '{name}' not found in config")
        return default

    def _env_var(self, name: str, default: Any = _NOT_GIVEN) -> Any:
        if name in self.env_vars:
            return self.env_vars[name]
        if default is _NOT_GIVEN:
            raise CompilationError(f"Env var required but not provided: '{name}'")
        return default

    def _source(self, source_name: str, table_name: str) -> BaseRelation:
        for node in self.graph.get("sources", {}).values():
            if node["source_name"] == source_name and node["name"] == table_name:
                return warehouse_relation(
                    self.adapter_type,
                    node.get("database"),
                    node.get("schema"),
                    node.get("identifier") or node["name"],
                    type="table",
                )
        raise CompilationError(f"source '{source_name}.{table_name}' was not found")


def squash(sql: str) -> str:
    """SQL with all whitespace runs collapsed to one space, for comparisons."""
    return " ".join(sql.split())


# --- relations as each warehouse renders them ---------------------------------

_ALL_QUOTED = {"database": True, "schema": True, "identifier": True}
_NONE_QUOTED = {"database": False, "schema": False, "identifier": False}


def snowflake_relation(
    database: str, schema: str, identifier: str, *, quoted: bool = False
) -> BaseRelation:
    return BaseRelation.create(
        database=database,
        schema=schema,
        identifier=identifier,
        quote_policy=_ALL_QUOTED if quoted else _NONE_QUOTED,
    )


def backtick_relation(project: str, dataset: str, identifier: str) -> BaseRelation:
    """BigQuery (project.dataset.table) and Databricks (catalog.schema.table)."""
    return BaseRelation.create(
        database=project,
        schema=dataset,
        identifier=identifier,
        quote_character="`",
        quote_policy=_ALL_QUOTED,
    )


def postgres_relation(database: str, schema: str, identifier: str) -> BaseRelation:
    return BaseRelation.create(
        database=database, schema=schema, identifier=identifier, quote_policy=_ALL_QUOTED
    )


@dataclass(frozen=True, eq=False, repr=False)
class DuckDBLikeRelation(BaseRelation):
    """Stands in for dbt-duckdb's relation, which carries `external` for file sources and
    then renders as that location."""

    external: str | None = None

    def render(self) -> str:
        return self.external if self.external else super().render()


@dataclass(frozen=True, eq=False, repr=False)
class SparkLikeRelation(BaseRelation):
    """Stands in for dbt-spark's and dbt-databricks' relations as their relation cache
    returns them: `is_delta` is known when the table's description is (`information`)."""

    information: str | None = None
    is_delta: bool | None = None

    def has_information(self) -> bool:
        return self.information is not None


def duckdb_relation(
    identifier: str, external: str | None = None, schema: str = "main", database: str = "memory"
) -> BaseRelation:
    return DuckDBLikeRelation.create(
        database=database,
        schema=schema,
        identifier=identifier,
        quote_policy=_ALL_QUOTED,
        external=external,
    )


@dataclass(frozen=True)
class RelationStyle:
    """How one warehouse's dbt adapter builds its relations."""

    relation_class: type[BaseRelation]
    quote_character: str
    quote_policy: Mapping[str, bool]
    include_policy: Mapping[str, bool]


_ALL_INCLUDED = _ALL_QUOTED

# The quoting of each adapter's own relation class (dbt-postgres, dbt-duckdb, dbt-snowflake,
# dbt-bigquery, dbt-databricks, dbt-spark); any other adapter gets PostgreSQL's.
RELATION_STYLES: Mapping[str, RelationStyle] = {
    "postgres": RelationStyle(BaseRelation, '"', _ALL_QUOTED, _ALL_INCLUDED),
    "duckdb": RelationStyle(DuckDBLikeRelation, '"', _ALL_QUOTED, _ALL_INCLUDED),
    "snowflake": RelationStyle(BaseRelation, '"', _NONE_QUOTED, _ALL_INCLUDED),
    "bigquery": RelationStyle(BaseRelation, "`", _ALL_QUOTED, _ALL_INCLUDED),
    "databricks": RelationStyle(SparkLikeRelation, "`", _ALL_QUOTED, _ALL_INCLUDED),
    "spark": RelationStyle(
        SparkLikeRelation,
        "`",
        _NONE_QUOTED,
        {"database": False, "schema": True, "identifier": True},
    ),
}


def warehouse_relation(
    adapter_type: str,
    database: str | None,
    schema: str | None,
    identifier: str | None = None,
    *,
    type: str | None = None,
    **kwargs: Any,
) -> BaseRelation:
    """A relation as `api.Relation.create` makes it on `adapter_type`'s warehouse."""
    style = RELATION_STYLES.get(adapter_type, RELATION_STYLES["postgres"])
    options: dict[str, Any] = {
        "quote_character": style.quote_character,
        "quote_policy": dict(style.quote_policy),
        "include_policy": dict(style.include_policy),
        **kwargs,
    }
    return style.relation_class.create(
        database=database,
        schema=schema,
        identifier=identifier,
        type=None if type is None else RelationType(type),
        **options,
    )
