"""The fingerprinter: one sha256 per node over its definition (see the package docstring)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestra_dbt_py.fingerprint.canonical import (
    canonical_json,
    env_digest,
    file_digest,
    plain,
    sha256_hex,
)
from orchestra_dbt_py.fingerprint.macros import MacroIndex, builtin_packages
from orchestra_dbt_py.fingerprint.parts import config_defaults, definition_parts
from orchestra_dbt_py.fingerprint.references import Refs, merge_refs
from orchestra_dbt_py.fingerprint.sql import lex

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

# Bump when the content or layout of the payload changes: every stored fingerprint then
# differs from the new ones, so nothing is reused on the strength of an older algorithm.
FINGERPRINT_VERSION = 2

DEFAULT_RESOURCE_TYPES = frozenset({"model", "seed", "snapshot", "test"})

# Config keys that do not change what a node writes. Only scheduling policy belongs here.
_CONFIG_EXCLUDED = frozenset({"freshness"})
# Scheduling and cloning policies inside `state:` or `meta.orchestra_dbt`, likewise.
_POLICY_KEYS = frozenset({"lag_tolerance", "require_fresh_data_from", "pre_clone"})
# Source settings that only say how freshness is measured, not what the source holds.
_SOURCE_CONFIG_EXCLUDED = frozenset({"freshness", "loaded_at_field", "loaded_at_query"})

# Macros dbt calls by name from Python, outside any template: what a Python model's code is
# wrapped in before it is submitted.
_PYTHON_MODEL_MACROS = ("py_script_postfix", "py_script_comment")


class _Fingerprinter:
    def __init__(
        self,
        manifest: Manifest,
        vars_for_package: Callable[[str], Mapping[str, Any]],
        env: Mapping[str, str],
        adapter_type: str,
        target: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.manifest = manifest
        self.vars_for_package = vars_for_package
        self.env = env
        self.adapter_type = adapter_type
        self.target = target
        self.settings = None if settings is None else plain(settings)
        self.macros = MacroIndex(manifest)
        self.project_name = manifest.metadata.project_name or ""
        self.builtin_packages = builtin_packages(adapter_type)
        self.done: dict[str, str] = {}
        self.parts: dict[str, dict[str, str]] = {}
        self._macro_parts: dict[str, dict[str, str]] = {}
        # Nodes that read a var, env var or target field by a computed name (themselves or
        # through an ephemeral parent): their fingerprint holds every value they might read.
        self.computed_reads: set[str] = set()
        self._materializations: dict[str, frozenset[str]] = {}
        self._vars: dict[str, Mapping[str, Any]] = {}
        self._all_env: dict[str, str | None] | None = None

    # -- entry point ----------------------------------------------------------------------

    def fingerprint(self, unique_id: str) -> str:
        found = self.done.get(unique_id)
        if found is None:
            node = self.manifest.nodes[unique_id]
            payload = self.payload(node)
            found = sha256_hex(canonical_json(payload))
            self.done[unique_id] = found
            self.parts[unique_id] = definition_parts(
                payload, self._macro_parts[unique_id], config_defaults(type(node.config))
            )
        return found

    def payload(self, node: Any) -> dict[str, Any]:
        resource_type = str(node.resource_type)
        config = plain(node.config.to_dict())
        for key in _CONFIG_EXCLUDED:
            config.pop(key, None)
        _drop_policies(config, "state")
        _drop_policies(config.get("meta") or {}, "orchestra_dbt")
        refs = Refs()
        refs.scan_strings(config)
        payload: dict[str, Any] = {
            "fingerprint_version": FINGERPRINT_VERSION,
            "settings": self.settings,
            "resource_type": resource_type,
            "language": str(getattr(node, "language", "") or ""),
            "config": config,
            # Not the relation it builds into (nor its parents'): the same code gets the same
            # fingerprint in every target. The record's relation guards a move (rule 1).
            "adapter_type": self.adapter_type,
        }
        payload["code"] = self.code(node, resource_type, refs)
        payload.update(self.docs_and_contract(node, config))
        test_metadata = getattr(node, "test_metadata", None)
        if test_metadata is not None:
            kwargs = plain(test_metadata.kwargs)
            payload["test"] = {
                "name": test_metadata.name,
                "namespace": test_metadata.namespace,
                "kwargs": kwargs,
            }
            refs.scan_strings(kwargs)
        if resource_type == "test":
            payload["test_target"] = {
                "column_name": getattr(node, "column_name", None),
                "attached_node": getattr(node, "attached_node", None),
                # Where it stores its failures: unlike a model's, a test's record is not
                # checked against its relation (rule 1), so its relation stays here.
                "relation": [
                    node.database,
                    node.schema,
                    getattr(node, "alias", None),
                    getattr(node, "relation_name", None),
                ],
            }
        payload["parents"] = self.parents(node)
        payload.update(self.references(node, config, refs))
        return payload

    # -- parts ----------------------------------------------------------------------------

    def code(self, node: Any, resource_type: str, refs: Refs) -> Any:
        if resource_type == "seed":
            path = Path(node.root_path) / node.original_file_path
            return {"seed_file_sha256": file_digest(path), "path": node.original_file_path}
        raw_code = getattr(node, "raw_code", "") or ""
        if str(getattr(node, "language", "sql")) == "python":
            refs.scan(raw_code)
            return raw_code
        normal, jinja = lex(raw_code)
        for code in jinja:
            refs.scan(code)
        return normal

    def docs_and_contract(self, node: Any, config: Mapping[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        persist_docs = config.get("persist_docs") or {}
        columns = getattr(node, "columns", None) or {}
        if persist_docs.get("relation"):
            extra["description"] = node.description
        if persist_docs.get("columns"):
            extra["column_descriptions"] = {
                name: column.description for name, column in columns.items()
            }
        contract = config.get("contract") or {}
        if contract.get("enforced"):
            extra["contract_columns"] = {
                name: {
                    "name": column.name,
                    "data_type": column.data_type,
                    "constraints": plain(column.constraints),
                    "quote": column.quote,
                }
                for name, column in columns.items()
            }
            extra["contract_constraints"] = plain(getattr(node, "constraints", None))
        return extra

    def parents(self, node: Any) -> list[Any]:
        depends_on = getattr(node, "depends_on", None)
        parent_ids = sorted(set(getattr(depends_on, "nodes", None) or ()))
        result: list[Any] = []
        for parent_id in parent_ids:
            parent = self.manifest.nodes.get(parent_id)
            if parent is not None:
                if (
                    str(parent.resource_type) == "model"
                    and parent.config.materialized == "ephemeral"
                ):
                    result.append({"id": parent_id, "ephemeral": self.fingerprint(parent_id)})
                    if parent_id in self.computed_reads:
                        self.computed_reads.add(node.unique_id)
                else:
                    # Its relation is the parent's own business: a parent that moves is
                    # rebuilt, which counts as new data for this node.
                    result.append({"id": parent_id})
                continue
            source = self.manifest.sources.get(parent_id)
            if source is not None:
                source_config = plain(source.config.to_dict())
                for key in _SOURCE_CONFIG_EXCLUDED:
                    source_config.pop(key, None)
                result.append(
                    {
                        "id": parent_id,
                        "relation": source.relation_name,
                        "external": plain(source.external),
                        "meta": plain(source.meta),
                        "config": source_config,
                    }
                )
                continue
            result.append({"id": parent_id, "unknown": True})
        return result

    def references(self, node: Any, config: Mapping[str, Any], refs: Refs) -> dict[str, Any]:
        """Macros (transitively), vars, env vars and target attributes the node reads."""
        start = set(getattr(getattr(node, "depends_on", None), "macros", None) or ())
        start |= self.materialization_macros(str(config.get("materialized") or ""))
        start |= self.strategy_macros(config)
        if str(getattr(node, "language", "sql")) == "python":
            for name in _PYTHON_MODEL_MACROS:
                start.update(self.macros.by_name.get(name, ()))
        package_vars = self.package_vars(node.package_name)  # values made by `plain`
        var_values: dict[str, Any] = {}
        scanned_vars: set[str] = set()
        while True:
            start |= self.macros.resolve(refs)
            closure = self.macros.closure(frozenset(start))
            all_refs = Refs()
            merge_refs(all_refs, refs)
            merge_refs(all_refs, closure.refs)
            wanted = set(package_vars) if all_refs.any_var else set(all_refs.vars)
            new = wanted - scanned_vars
            if not new:
                break
            # A var's value is rendered when read, so Jinja inside it counts as well.
            for name in new:
                if name in package_vars:
                    refs.scan_strings(package_vars[name])
            scanned_vars |= new
        for name in sorted(all_refs.vars):
            # Tagged, so that no value can look like a missing var.
            var_values[name] = {"value": package_vars[name]} if name in package_vars else None
        result: dict[str, Any] = {"macros": closure.digest, "vars": var_values}
        self._macro_parts[node.unique_id] = self.macros.parts(
            closure, self.project_name, self.builtin_packages
        )
        if all_refs.any_var or all_refs.any_env or all_refs.any_target:
            self.computed_reads.add(node.unique_id)
        if all_refs.any_var:
            result["all_vars"] = dict(package_vars)
        result["env_vars"] = {
            name: env_digest(name, self.env.get(name)) for name in sorted(all_refs.envs)
        }
        if all_refs.any_env:
            result["all_env_vars"] = self.all_env()
        if self.target is not None:
            target = self.target
            if all_refs.any_target:
                attrs = sorted(str(key) for key in target)
            else:
                attrs = sorted(all_refs.target_attrs)
            result["target"] = {
                attr: sha256_hex(canonical_json(plain(target[attr]))) if attr in target else None
                for attr in attrs
            }
        return result

    def materialization_macros(self, materialized: str) -> frozenset[str]:
        """The macro dbt runs to build a node of this materialization, plus close candidates.

        dbt's own resolution when it can be asked; in any case the adapter's and the default
        implementation from every package; if resolution fails, every implementation.
        """
        if not materialized:
            return frozenset()
        cached = self._materializations.get(materialized)
        if cached is not None:
            return cached
        prefix = f"materialization_{materialized}_"
        found = set(self.macros.by_name.get(prefix + self.adapter_type, ()))
        found.update(self.macros.by_name.get(prefix + "default", ()))
        try:
            resolved = self.manifest.find_materialization_macro_by_name(
                self.project_name, materialized, self.adapter_type
            )
        except Exception:
            # No registered adapter to ask about its parents: take every implementation.
            resolved = None
            for name, ids in self.macros.by_name.items():
                if name.startswith(prefix):
                    found.update(ids)
        if resolved is not None:
            found.add(resolved.unique_id)
        result = frozenset(found)
        self._materializations[materialized] = result
        return result

    def strategy_macros(self, config: Mapping[str, Any]) -> set[str]:
        """Macros looked up by a name built at run time: incremental and snapshot strategies."""
        names: list[str] = []
        if config.get("materialized") == "incremental":
            incremental = str(config.get("incremental_strategy") or "default")
            names.append(f"get_incremental_{incremental.replace('+', '_')}_sql")
        snapshot = config.get("strategy")
        if config.get("materialized") == "snapshot" and isinstance(snapshot, str):
            names.append(f"snapshot_{snapshot.rsplit('.', 1)[-1]}_strategy")
        found: set[str] = set()
        for name in names:
            found.update(self.macros.by_name.get(name, ()))
            found.update(self.macros.by_dispatch_suffix.get(name, ()))
        return found

    def package_vars(self, package_name: str) -> Mapping[str, Any]:
        found = self._vars.get(package_name)
        if found is None:
            found = {
                str(name): plain(value)
                for name, value in self.vars_for_package(package_name).items()
            }
            self._vars[package_name] = found
        return found

    def all_env(self) -> dict[str, str | None]:
        """Env vars a non-literal `env_var(...)` may read: those dbt recorded while parsing,
        and every `DBT_*` variable."""
        if self._all_env is None:
            names = set(self.manifest.env_vars) | {
                name for name in self.env if name.startswith("DBT_")
            }
            self._all_env = {name: env_digest(name, self.env.get(name)) for name in sorted(names)}
        return self._all_env


def _drop_policies(config: dict[str, Any], key: str) -> None:
    """Take the policy keys out of `config[key]`, and the key itself if nothing is left."""
    settings = config.get(key)
    if isinstance(settings, dict):
        kept = {name: value for name, value in settings.items() if name not in _POLICY_KEYS}
        if kept:
            config[key] = kept
        else:
            del config[key]


def _default_node_ids(manifest: Manifest) -> Iterable[str]:
    for unique_id, node in manifest.nodes.items():
        if str(node.resource_type) in DEFAULT_RESOURCE_TYPES:
            yield unique_id


@dataclass(frozen=True)
class Definitions:
    fingerprints: dict[str, str]
    # The nodes among them that read a var, env var or target field by a computed name.
    computed_reads: frozenset[str]
    # Each node's definition parts (fingerprint.parts): what a changed fingerprint changed in.
    parts: dict[str, dict[str, str]]


def fingerprint_definitions(
    manifest: Manifest,
    *,
    vars_for_package: Callable[[str], Mapping[str, Any]],
    env: Mapping[str, str],
    adapter_type: str,
    node_ids: Collection[str] | None = None,
    target: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Definitions:
    """sha256 hex digest of each node's definition (see the package docstring for the inputs),
    and the named parts of each definition with a short digest each (`parts`).

    `manifest` comes straight from `parse`. `vars_for_package` gives the effective vars of a
    package (see `vars_provider`); `env` is the environment dbt runs with. `node_ids` limits
    the work to those nodes (default: every model, seed, snapshot and data test); an id that
    is not a node of the manifest raises KeyError.

    Optional, and recommended (both from the parsing invocation's RuntimeConfig):
    `target` (`config.to_target_dict()`) adds, as digests, the `target.<attr>` values a
    node's Jinja reads; `settings` (`project_settings(config)`) adds project-wide settings
    that choose which macro runs, to every fingerprint.
    """
    fingerprinter = _Fingerprinter(
        manifest, vars_for_package, env, adapter_type, target=target, settings=settings
    )
    wanted = list(_default_node_ids(manifest)) if node_ids is None else list(node_ids)
    for unique_id in wanted:
        if unique_id not in manifest.nodes:
            raise KeyError(f"{unique_id} is not a node of this manifest")
    fingerprints = {unique_id: fingerprinter.fingerprint(unique_id) for unique_id in wanted}
    return Definitions(
        fingerprints,
        frozenset(fingerprinter.computed_reads.intersection(fingerprints)),
        {unique_id: fingerprinter.parts[unique_id] for unique_id in fingerprints},
    )
