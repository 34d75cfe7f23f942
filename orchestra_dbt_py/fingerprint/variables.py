"""Vars and project-wide settings of the invocation that parsed the manifest."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from orchestra_dbt_py.fingerprint.canonical import plain

if TYPE_CHECKING:
    from dbt.config.runtime import RuntimeConfig


def vars_provider(config: RuntimeConfig) -> Callable[[str], Mapping[str, Any]]:
    """Effective vars per package, as dbt's `var()` sees them inside that package's nodes.

    `config` is the RuntimeConfig of the invocation that parsed the manifest
    (`get_adapter_by_type(adapter_type).config`). As in dbt-core 1.10-1.12
    (`ModelConfiguredVar`): the package's own `vars:` (when it is not the root project), then
    the root project's global and package-scoped `vars:`, then `--vars`; the last one wins.
    """
    from dbt.context.configured import FQNLookup

    adapter_type = config.credentials.type
    root = config.project_name
    cache: dict[str, Mapping[str, Any]] = {}

    def effective_vars(package_name: str) -> Mapping[str, Any]:
        found = cache.get(package_name)
        if found is not None:
            return found
        lookup = FQNLookup(package_name)
        merged: dict[str, Any] = {}
        if package_name != root:
            dependency = config.load_dependencies().get(package_name)
            if dependency is not None:
                scoped = dependency.vars.vars_for(lookup, adapter_type)
                merged.update((key, scoped[key]) for key in scoped)
        scoped = config.vars.vars_for(lookup, adapter_type)
        merged.update((key, scoped[key]) for key in scoped)
        merged.update(config.cli_vars)
        cache[package_name] = merged
        return merged

    return effective_vars


def project_settings(config: RuntimeConfig) -> dict[str, Any]:
    """Project-wide settings that can change any node's output without showing in any node:
    the `dispatch:` search order (which implementation `adapter.dispatch` picks) and the
    project's behaviour `flags:`. Pass the result as `settings` to `fingerprint_definitions`.
    """
    return {"dispatch": plain(config.dispatch), "flags": plain(config.flags)}
