"""The inputs a model's compiled SQL reads beyond its refs and sources (`core.implicit`):
learned from the node's record when its definition is unchanged, else by compiling the
model in-process (dbt's own compiler, this session's adapter) and reading the SQL
(`sql_reads`); and the values the date-grained clock expressions have now."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbt.compilation import Compiler

from orchestra_dbt_py.core.graph import Node, holds_data
from orchestra_dbt_py.core.implicit import CLOCK_VALUE, ImplicitInput, SqlInputs, input_kind
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion
from orchestra_dbt_py.dbt.node_settings import node_flag
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.errors import OrcError, one_line

if TYPE_CHECKING:
    from orchestra_dbt_py.sql_reads import SqlReads

# sqlglot takes a third of a second to import: it is imported only when some SQL is read
# (`_sql`), so a run where every record names its model's reads does without it.

__all__ = ["SqlInputReader"]

# Where an unqualified name resolves when the connection does not set a schema.
_SEARCH_SCHEMA = {"postgres": "public", "redshift": "public", "duckdb": "main"}
# What compiling sets on a manifest node; put back afterwards, so the build compiles afresh.
_COMPILED_FIELDS = (
    "compiled",
    "compiled_code",
    "extra_ctes_injected",
    "extra_ctes",
    "_pre_injected_sql",
)
_QUOTED = {"database": True, "schema": True, "identifier": True}


@dataclass
class SqlInputReader:
    """Finds and measures what selected models read outside dbt's graph, for one session."""

    session: DbtSession
    # What naming a relation reads, by its rendered name (`_read_name`).
    _names: dict[str, _Declared | None] = field(default_factory=dict)

    @property
    def dialect(self) -> str | None:
        return _sql().dialect_of(self.session.adapter_type)

    def read(
        self, nodes: Mapping[str, Node], selected: Iterable[str], state: Mapping[str, NodeRecord]
    ) -> dict[str, SqlInputs]:
        """Per selected table model (not views, whose data is always current), its inputs;
        compiling only those whose record does not name them for this definition."""
        manifest = self.session.manifest
        found: dict[str, SqlInputs] = {}
        to_compile: list[str] = []
        for uid in selected:
            node, model = nodes.get(uid), manifest.nodes.get(uid)
            if node is None or model is None or node.resource_type != "model":
                continue
            if not holds_data(node) or getattr(model, "language", "sql") != "sql":
                continue
            settings = _settings(model)
            if settings.get("reads") == []:
                continue
            record = state.get(uid)
            evaluate = _evaluate_volatile(model, settings)
            # Same fingerprint, same compiled SQL (apart from introspective queries).
            recorded = _recorded_reads(record, node)
            known = None if recorded is None else self._known(recorded)
            if known is not None:
                found[uid] = SqlInputs(known, evaluate)
            else:
                to_compile.append(uid)
        sqls: dict[str, str | Exception] = dict(self._uncompiled(to_compile))
        sqls.update(self._compile([uid for uid in to_compile if uid not in sqls]))
        for uid in to_compile:
            sql, model = sqls[uid], manifest.nodes[uid]
            evaluate = _evaluate_volatile(model, _settings(model))
            if isinstance(sql, Exception):
                found[uid] = SqlInputs(unreadable=f"dbt could not compile it: {one_line(sql)}")
                continue
            try:
                reads = _sql().read_sql(sql, self.dialect)
            except _sql().UnreadableSql as error:
                found[uid] = SqlInputs(unreadable=f"sqlglot: {error}")
                continue
            found[uid] = SqlInputs(self._undeclared(model, reads), evaluate)
        return found

    def relations(self, inputs: Iterable[SqlInputs]) -> dict[str, Any]:
        """The warehouse relation of every relation input, by its key."""
        keys = {i.key for s in inputs for i in s.inputs if i.kind == "relation"}
        return {key: self._relation(parts) for key in sorted(keys) if (parts := self.parts_of(key))}

    def clock_values(self, inputs: Iterable[SqlInputs]) -> tuple[dict[str, DataVersion], str]:
        """The value now of every date-grained clock expression, in one query (an empty
        version for each when the query fails, with the error)."""
        keys = sorted({i.key for s in inputs for i in s.inputs if i.kind == "clock"})
        if not keys:
            return {}, ""
        expressions = [key.split(":", 1)[1] for key in keys]
        adapter = self.session.adapter
        try:
            sql = _sql().clock_query(expressions, self.dialect)
            with adapter.connection_named("orc_clock"):
                _, table = adapter.execute(sql, fetch=True)
            row = list(table.rows[0])
        except Exception as error:
            return {key: {} for key in keys}, one_line(error)
        finally:
            adapter.cleanup_connections()
        return {key: {CLOCK_VALUE: str(value)} for key, value in zip(keys, row, strict=True)}, ""

    def _uncompiled(self, uids: Iterable[str]) -> dict[str, str]:
        """The SQL of the models among these that need no compiling (`sql_of_template`):
        not in a project that overrides ref, source, config or dbt's is_incremental, nor
        reading an ephemeral model (compiled into the reader)."""
        manifest = self.session.manifest
        if any(_overrides_template_call(macro) for macro in manifest.macros.values()):
            return {}
        found = {}
        for uid in uids:
            model = manifest.nodes[uid]
            parents = (manifest.nodes.get(p) for p in getattr(model.depends_on, "nodes", ()))
            if any(getattr(p.config, "materialized", None) == "ephemeral" for p in parents if p):
                continue
            sql = _sql().sql_of_template(model.raw_code, self.session.adapter.quote)
            if sql is not None:
                found[uid] = sql
        return found

    def _compile(self, uids: Collection[str]) -> dict[str, str | Exception]:
        """Each model's compiled SQL (or why it could not be compiled), on one connection;
        the manifest is left as it was."""
        if not uids:
            return {}
        manifest = self.session.manifest
        compiler = Compiler(self.session.config)
        saved = {
            uid: {name: _copied(getattr(node, name, None)) for name in _COMPILED_FIELDS}
            for uid, node in manifest.nodes.items()
            if hasattr(node, "compiled_code")
        }
        compiled: dict[str, str | Exception] = {}
        adapter = self.session.adapter
        try:
            with adapter.connection_named("orc_compile"):
                for uid in uids:
                    try:
                        sides = []
                        for context in _sides(manifest.nodes[uid]):
                            for name, value in saved[uid].items():  # compiled afresh
                                setattr(manifest.nodes[uid], name, _copied(value))
                            node = compiler.compile_node(
                                _sql_node(manifest, uid), manifest, context, False
                            )
                            sides.append(str(node.compiled_code or ""))
                        compiled[uid] = "\n;\n".join(dict.fromkeys(sides))
                    except Exception as error:  # the build shows dbt's own error
                        compiled[uid] = error
        finally:
            for uid, values in saved.items():
                for name, value in values.items():
                    setattr(manifest.nodes[uid], name, value)
            adapter.cleanup_connections()
        return compiled

    def _undeclared(self, model: Any, reads: SqlReads) -> tuple[ImplicitInput, ...]:
        read = [parts for parts in reads.relations if parts[2] != _sql().DECLARED]
        # A model read without compiling names what it declares by placeholder only.
        declared = self._declared(model) if read or reads.functions else _Declared(set(), set())
        relations = {self.full_name(parts) for parts in read} - declared.relations
        inputs = [ImplicitInput.of("relation", self._key(p), self._label(p)) for p in relations]
        inputs += [
            ImplicitInput.of("function", f) for f in reads.functions if f not in declared.functions
        ]
        inputs += [ImplicitInput.of("clock", c) for c in reads.date_clocks]
        inputs += [ImplicitInput.of("volatile", c) for c in reads.volatile_clocks]
        return tuple(sorted(inputs, key=lambda i: i.key))

    def _declared(self, model: Any) -> _Declared:
        """What the model reads through dbt (its refs and sources, looking through ephemeral
        models, which are compiled into it) and its own relation, as the SQL names them."""
        manifest = self.session.manifest
        adapter = self.session.adapter
        relations: set[tuple[str, str, str]] = set()
        functions: set[str] = set()
        stack, seen = [model.unique_id, *model.depends_on.nodes], set()
        while stack:
            uid = stack.pop()
            if uid in seen:
                continue
            seen.add(uid)
            node = manifest.sources.get(uid) or manifest.nodes.get(uid)
            if node is None:
                continue
            if getattr(node.config, "materialized", None) == "ephemeral":
                stack.extend(getattr(node.depends_on, "nodes", ()))
                continue
            rendered = adapter.Relation.create_from(adapter.config, node).render()
            read = self._read_name(rendered)
            if read is not None:
                relations.update(read.relations)
                functions.update(read.functions)
        return _Declared(relations, functions)

    def _read_name(self, rendered: str) -> _Declared | None:
        """What naming this relation in a query reads (its full name, a table function),
        or None when sqlglot cannot read it; kept, as many models read the same parents."""
        if rendered not in self._names:
            try:
                reads = _sql().read_sql(f"select * from {rendered}", self.dialect)
            except _sql().UnreadableSql:
                self._names[rendered] = None
            else:
                full = {self.full_name(parts) for parts in reads.relations}
                self._names[rendered] = _Declared(full, set(reads.functions))
        return self._names[rendered]

    def full_name(self, parts: tuple[str, str, str]) -> tuple[str, str, str]:
        """A name read in the SQL with the parts it leaves out filled in as the warehouse
        resolves them: the target's database, the connection's default schema."""
        catalog, schema, name = parts
        credentials = self.session.config.credentials
        default_schema = _SEARCH_SCHEMA.get(self.session.adapter_type, credentials.schema)
        defaults = _sql().relation_parts(
            getattr(credentials, "database", None) or "", default_schema, "x", self.dialect, False
        )
        return (catalog or defaults[0], schema or defaults[1], name)

    def _relation(self, parts: tuple[str, str, str]) -> Any:
        database, schema, name = parts
        return self.session.adapter.Relation.create(
            database=database or None, schema=schema or None, identifier=name, quote_policy=_QUOTED
        )

    def _key(self, parts: tuple[str, str, str]) -> str:
        return str(self._relation(parts).render())

    def parts_of(self, key: str) -> tuple[str, str, str] | None:
        """The parts of a relation's rendered name (None when it names no one relation)."""
        try:
            reads = _sql().read_sql(f"select * from {key}", self.dialect)
        except _sql().UnreadableSql:
            return None
        return self.full_name(reads.relations[0]) if len(reads.relations) == 1 else None

    def _label(self, parts: tuple[str, str, str]) -> str:
        database = getattr(self.session.config.credentials, "database", None) or ""
        default = _sql().relation_parts(database, None, "x", self.dialect, False)[0]
        return ".".join(parts[1:] if parts[0] == default else parts)

    def _known(self, keys: Iterable[str]) -> tuple[ImplicitInput, ...] | None:
        """The inputs a record names, or None when one of its keys cannot be read back
        (then the model is compiled again)."""
        found = []
        for key in keys:
            kind = input_kind(key)
            if kind != "relation":
                found.append(ImplicitInput.of(kind, key.split(":", 1)[1]))
                continue
            parts = self.parts_of(key)
            if parts is None or self._key(parts) != key:
                return None
            found.append(ImplicitInput(key, self._label(parts)))
        return tuple(found)


@dataclass(frozen=True)
class _Declared:
    relations: set[tuple[str, str, str]]
    functions: set[str]


def _overrides_template_call(macro: Any) -> bool:
    """Whether a macro changes what a call `sql_of_template` reads renders to."""
    if macro.name == "is_incremental":
        return macro.package_name != "dbt"
    return macro.name in ("ref", "source", "config")


def _recorded_reads(record: NodeRecord | None, node: Node) -> Iterable[str] | None:
    """The keys of what this definition reads, when its record names them (a record of
    orc's with `reads`, for the same fingerprint)."""
    if record is None or record.reads is None or not node.fingerprint:
        return None
    return record.reads.keys() if record.fingerprint == node.fingerprint else None


def _settings(model: Any) -> dict[str, Any]:
    """The model's `meta: {orchestra_dbt: {...}}`; `reads` may only be [] (nothing else)."""
    meta = {**(getattr(model, "meta", None) or {}), **(getattr(model.config, "meta", None) or {})}
    settings = meta.get("orchestra_dbt") or {}
    if not isinstance(settings, dict):
        return {}
    if "reads" in settings and settings["reads"] != []:
        raise OrcError(
            f"model {model.name}: meta orchestra_dbt.reads may only be [] (it reads nothing "
            "but its refs and sources); declare other inputs as sources"
        )
    return settings


def _evaluate_volatile(model: Any, settings: Mapping[str, Any]) -> bool:
    """Whether the model asks for its sub-day clocks to be evaluated (`node_flag`);
    `settings` is its `meta.orchestra_dbt`."""
    meta = {"orchestra_dbt": settings}
    return node_flag(f"model {model.name}", model.config, meta, "evaluate_volatile_sql")


def _sql() -> Any:
    from orchestra_dbt_py import sql_reads

    return sql_reads


def _sql_node(manifest: Any, uid: str) -> Any:
    return manifest.nodes[uid]


def _sides(model: Any) -> list[dict[str, Any]]:
    """The contexts to compile a model in: an incremental model once per answer of its own
    `is_incremental()` calls (whichever a build takes, what either side reads is an input;
    macros it calls keep dbt's answer), any other once."""
    if getattr(model.config, "materialized", None) != "incremental":
        return [{}]
    return [{"is_incremental": lambda: False}, {"is_incremental": lambda: True}]


def _copied(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
