"""Questions to the warehouse through the adapter of a parsed session: source freshness, data
versions, the relations that exist, and the dbt package's macros (the state table, the hooks'
fingerprint, clones of tables from another target: `clone.py`). Freshness, data versions
and clones use the package's macros, lent from orc's own copy when the project has not
installed the package (`package.py`). Read-only, except for the state-table macros, which
commit their own writes, and the clones."""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.records import parse_timestamp
from orchestra_dbt_py.dbt.clone import clone_relations
from orchestra_dbt_py.dbt.kept_versions import (
    KEPT_VERSIONS_FILE,
    DuckdbFile,
    KeptVersions,
    checkpoint,
    duckdb_file,
)
from orchestra_dbt_py.dbt.package import LentPackage, installed, shipped_macros_digest
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.errors import OrcError, one_line

__all__ = ["Warehouse"]

PACKAGE_MISSING = (
    "the orchestra_dbt dbt package is not installed in this project, and the warehouse state "
    "backend needs it: add it to packages.yml and run `orc dbt deps`"
)
WITHOUT_PACKAGE = (
    "the orchestra_dbt dbt package is not installed: freshness and data versions are "
    "measured with the copy of its macros that orc ships (the project's own dispatch "
    "overrides still win); only the package's hooks and the warehouse state backend need it"
)
# Adapters whose views bind their query when they are read: a rebuilt table's columns
# show through a view created before. Elsewhere a view keeps the columns of when it was
# created (PostgreSQL and Redshift expand `*` then, and drop the view with a replaced
# table; Snowflake fails once the table has more columns), so it is created again.
ADAPTERS_WITH_LATE_BINDING_VIEWS = frozenset({"duckdb"})


class Warehouse:
    """The warehouse a session's target points at."""

    def __init__(self, session: DbtSession, explicit_freshness_only: bool = False) -> None:
        self.session = session
        # dbt-orchestra's `require_explicit_source_freshness`: a source without a
        # loaded_at_field / loaded_at_query is not measured at all (it counts as changed).
        self.explicit_freshness_only = explicit_freshness_only
        # What each measurement cost: (step, relations asked about, seconds), in order.
        self.measurements: list[tuple[str, int, float]] = []
        self._lent = LentPackage()
        self._kept: KeptVersions | None = None

    @property
    def has_package(self) -> bool:
        """Whether the project has the orchestra_dbt dbt package installed."""
        return installed(self.session.manifest)

    @contextmanager
    def _measuring_macros(self) -> Iterator[None]:
        """The package's measuring macros callable for the duration: the project's own, or
        orc's copy lent to a project without the package."""
        if self.has_package:
            yield
            return
        with self._lent.lent(self.session.manifest, self.session.config):
            yield

    @property
    def adapter_type(self) -> str:
        return self.session.adapter_type

    @property
    def transactions_disabled(self) -> bool:
        """Whether the profile makes every statement commit on its own: dbt-duckdb's
        `disable_transactions`, dbt-postgres's `autocommit`."""
        credentials = self.session.config.credentials
        return any(
            getattr(credentials, name, False) for name in ("disable_transactions", "autocommit")
        )

    @property
    def views_keep_their_columns(self) -> bool:
        return self.session.adapter_type not in ADAPTERS_WITH_LATE_BINDING_VIEWS

    def measure_freshness(
        self, source_ids: Iterable[str]
    ) -> tuple[dict[str, datetime | None], dict[str, str]]:
        """Each source's latest data time through the package macro (None when it cannot be
        measured), and the error of each source whose measurement failed. The sources are
        measured in one batch per thread (`sources_freshness`); a batch that fails is
        measured again one source at a time, to tell which source failed."""
        manifest = self.session.manifest
        adapter = self.session.adapter
        arguments = {
            uid: _freshness_arguments(adapter, manifest.sources[uid])
            for uid in sorted(source_ids)
            if not self.explicit_freshness_only or _has_loaded_at(manifest.sources[uid])
        }
        found: dict[str, datetime | None] = dict.fromkeys(sorted(source_ids))
        kept = self._kept_versions() if arguments else None
        if kept:
            known = kept.known_freshness(arguments)
            found.update(known)
            arguments = {uid: given for uid, given in arguments.items() if uid not in known}
            if known:
                self.measurements.append(("freshness_kept", len(known), 0.0))
        if not arguments:
            return found, {}
        errors: dict[str, str] = {}

        def measure_one(uid: str) -> datetime | None:
            try:
                with adapter.connection_named(f"orc_freshness_{uid}"):
                    return _as_utc(
                        adapter.execute_macro(
                            "source_freshness", project="orchestra_dbt", kwargs=arguments[uid]
                        )
                    )
            except Exception as error:  # unmeasured: its readers are rebuilt, and orc says why
                errors[uid] = one_line(error)
                return None

        batched = "macro.orchestra_dbt.sources_freshness" in manifest.macros or not self.has_package

        def measure_batch(batch: list[str]) -> list[datetime | None]:
            if batched and len(batch) > 1:
                try:
                    with adapter.connection_named(f"orc_freshness_{batch[0]}"):
                        answers = adapter.execute_macro(
                            "sources_freshness",
                            project="orchestra_dbt",
                            kwargs={"sources": [arguments[uid] for uid in batch]},
                        )
                    if isinstance(answers, list) and len(answers) == len(batch):
                        return [_as_utc(answer) for answer in answers]
                except Exception:  # measured one by one below, which says which source failed
                    pass
            return [measure_one(uid) for uid in batch]

        ids = list(arguments)
        threads = min(self.session.threads, len(ids))
        batches = [ids[index::threads] for index in range(threads)]
        started = time.perf_counter()
        try:
            with self._measuring_macros(), ThreadPoolExecutor(threads) as pool:
                for batch, answers in zip(batches, pool.map(measure_batch, batches), strict=True):
                    found.update(zip(batch, answers, strict=True))
            if kept:
                kept.keep_freshness(arguments, {u: found[u] for u in ids if u not in errors})
            return found, errors
        finally:
            adapter.cleanup_connections()
            self.measurements.append(("freshness", len(ids), time.perf_counter() - started))

    def data_versions(
        self, node_ids: Iterable[str], named: Iterable[Any] = ()
    ) -> tuple[dict[str, dict[str, str]] | None, str | None]:
        """The data version of each source and table among `node_ids`, and of each relation
        in `named` (keyed by its rendered name), from the package's `data_versions` macro in
        one call (an empty version where the warehouse offers none); or None and the error
        when the measurement failed. Sources that opt out with
        `meta: {orchestra_dbt: {data_version: false}}` are not asked (their `loaded_at`
        is all orc knows of them)."""
        manifest = self.session.manifest
        adapter = self.session.adapter
        # Two sources may name one relation (on DuckDB, one file): both get its version.
        by_relation: dict[str, list[str]] = {}
        relations = []
        for uid in sorted(node_ids):
            node = manifest.sources.get(uid) or manifest.nodes.get(uid)
            if node is None or _opted_out(node):
                continue
            if (
                self.explicit_freshness_only
                and uid.startswith("source.")
                and not (_has_loaded_at(node))
            ):
                continue
            relation = adapter.Relation.create_from(adapter.config, node)
            by_relation.setdefault(relation.render(), []).append(uid)
            relations.append(relation)
        for relation in named:
            by_relation.setdefault(relation.render(), []).append(relation.render())
            relations.append(relation)
        if not relations:
            return {}, None
        kept = self._kept_versions()
        known, relations = kept.split(relations) if kept else ({}, relations)
        if known:
            self.measurements.append(("data_versions_kept", len(known), 0.0))
        found: Any = {}
        if relations:
            started = time.perf_counter()
            try:
                with self._measuring_macros():
                    found = self._package_macro("data_versions", {"relations": relations})
            except OrcError:
                raise
            except Exception as error:
                return None, one_line(error)
            finally:
                adapter.cleanup_connections()
                seconds = time.perf_counter() - started
                self.measurements.append(("data_versions", len(relations), seconds))
        versions: dict[str, dict[str, str]] = {
            uid: {} for uids in by_relation.values() for uid in uids
        }
        if not isinstance(found, Mapping | None):
            return None, f"the data_versions macro returned {type(found).__name__}, not a dict"
        if kept and found:
            kept.keep(relations, found)
        for rendered, version in {**(found or {}), **known}.items():
            if not isinstance(version, Mapping):
                continue  # not a version: the relation counts as unmeasured
            for owner in by_relation.get(str(rendered), ()):
                versions[owner] = {str(k): str(v) for k, v in version.items() if v is not None}
        return versions, None

    @property
    def keeps_measurements(self) -> bool:
        """Whether what is measured is kept while the target's file is unchanged (DuckDB)."""
        return self._duckdb_file is not None

    def checkpoint(self) -> None:
        """After a build, before measuring: a kept DuckDB file's log written into it."""
        if self._duckdb_file is not None:
            checkpoint(self.session.adapter)

    def _kept_versions(self) -> KeptVersions | None:
        """What is kept of the DuckDB file the target is, if it is one (kept_versions.py): the
        file is looked at now, before what is kept is measured; while it is as it was at the
        last look, that look's object (with what it has kept since) is used again."""
        if self._kept is not None and self._kept.unchanged():
            return self._kept
        if self._duckdb_file is None:
            return None
        self._kept = KeptVersions(self.session.target_dir / KEPT_VERSIONS_FILE, self._duckdb_file)
        return self._kept

    @cached_property
    def _duckdb_file(self) -> DuckdbFile | None:
        session = self.session
        return duckdb_file(
            self.adapter_type,
            session.config.credentials,
            session.manifest.macros,
            None if self.has_package else shipped_macros_digest(),
        )

    def clone_relations(self, pairs: Sequence[tuple[str, Node]]) -> dict[str, str]:
        """Clone each node's table from a relation of another target (its name as a state
        record holds it) with the package's clone_relation macro (the project's, or orc's
        copy lent): zero-copy where the warehouse has it, a copy elsewhere. Returns the
        error of each node that failed (its table is then as it was); raises nothing."""
        if not pairs:
            return {}
        try:
            with self._measuring_macros():
                return clone_relations(self.session, pairs)
        except OrcError as error:  # orc's copy of the package is unreadable
            return {node.unique_id: str(error) for _, node in pairs}

    def existing_relations(self, nodes: Iterable[Node]) -> set[str]:
        """The lower-cased relation names, among those of `nodes`, that exist in the warehouse."""
        manifest_nodes = self.session.manifest.nodes
        schemas: dict[tuple[str | None, str], None] = {}
        for node in nodes:
            manifest_node = manifest_nodes.get(node.unique_id)
            if manifest_node is not None and node.relation:
                schemas[(manifest_node.database, manifest_node.schema)] = None
        return self._listed(schemas)

    def existing_named(self, relations: Iterable[Any]) -> set[str]:
        """The lower-cased rendered names, among these adapter relations, that exist in the
        warehouse (one listing per schema)."""
        wanted = {relation.render().lower(): relation for relation in relations}
        schemas = {(r.database, r.schema): None for r in wanted.values()}
        return self._listed(schemas) & set(wanted)

    def _listed(self, schemas: Iterable[tuple[str | None, str]]) -> set[str]:
        """The lower-cased names of the relations in these schemas (kept ones read back)."""
        adapter = self.session.adapter
        kept = self._kept_versions()
        listed = {key: kept.listing(key) if kept else None for key in schemas}
        left = [key for key, names in listed.items() if names is None]

        def list_schema(key: tuple[str | None, str]) -> list[str]:
            database, schema = key
            with adapter.connection_named(f"orc_relations_{database}_{schema}"):
                schema_relation = adapter.Relation.create(database=database, schema=schema)
                return [
                    relation.render().lower()
                    for relation in adapter.list_relations_without_caching(schema_relation)
                ]

        if left:
            try:
                with ThreadPoolExecutor(max_workers=self.session.threads) as pool:
                    listed.update(zip(left, pool.map(list_schema, left), strict=True))
            except Exception as error:
                raise OrcError(
                    f"listing relations in the warehouse failed: {one_line(error)}"
                ) from error
            finally:
                adapter.cleanup_connections()
            if kept:
                kept.keep_listings({key: listed[key] or [] for key in left})
        return {name for names in listed.values() for name in names or ()}

    def call_package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any:
        """Run a macro of the installed orchestra_dbt package on its own connection of this
        thread (the state table's reads and writes, which commit themselves)."""
        if not self.has_package:
            raise OrcError(PACKAGE_MISSING)
        return self._package_macro(name, kwargs)

    def _package_macro(self, name: str, kwargs: Mapping[str, Any]) -> Any:
        if f"macro.orchestra_dbt.{name}" not in self.session.manifest.macros:
            raise OrcError(
                f"the installed orchestra_dbt dbt package has no {name} macro: update it "
                "to this orc's version and run `orc dbt deps`"
            )
        adapter = self.session.adapter
        with adapter.connection_named("orc_state"):
            return adapter.execute_macro(name, project="orchestra_dbt", kwargs=dict(kwargs))

    def table_exists(self, database: str | None, schema: str, identifier: str) -> bool:
        """Whether the warehouse has this table now (asked directly, not dbt's cache).
        Names compare without regard to case; `database` defaults to the target's.
        Only the warehouse state backend asks, and it needs the package: without it, this
        first question fails, before anything is planned or built."""
        if not self.has_package:
            raise OrcError(PACKAGE_MISSING)
        adapter = self.session.adapter
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
        """The fingerprint the package's record_run hook would record for each node now;
        none without the package, whose hooks alone make such records."""
        if not self.has_package:  # a record the hooks made elsewhere cannot be vouched for
            return dict.fromkeys(node_ids)
        if not node_ids:
            return {}

        def compute(missing: Collection[str]) -> dict[str, str | None]:
            manifest = self.session.manifest
            if not manifest.flat_graph:
                manifest.build_flat_graph()
            found = self.call_package_macro("hook_fingerprints", {"unique_ids": sorted(missing)})
            return {uid: (str(found[uid]) if found.get(uid) else None) for uid in missing}

        # The macro reads the environment of this process (env_var), whatever orc was given.
        cache = self.session.project_cache(os.environ)
        found = cache.hook_fingerprints(node_ids, compute)
        cache.save()
        return found


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


def _freshness_arguments(adapter: Any, source: Any) -> dict[str, Any]:
    """The arguments of the package's source_freshness macro for a parsed source."""
    relation = adapter.Relation.create_from(adapter.config, source)
    freshness = getattr(source, "freshness", None)
    return {
        "relation": relation,
        "loaded_at_field": getattr(source, "loaded_at_field", None),
        "loaded_at_query": getattr(source, "loaded_at_query", None),
        "filter": getattr(freshness, "filter", None) if freshness else None,
        "external_location": getattr(relation, "external", None),
    }


def _has_loaded_at(source: Any) -> bool:
    return bool(
        getattr(source, "loaded_at_field", None) or getattr(source, "loaded_at_query", None)
    )


def _opted_out(node: Any) -> bool:
    settings = (getattr(node, "meta", None) or {}).get("orchestra_dbt") or {}
    return isinstance(settings, dict) and settings.get("data_version") is False
