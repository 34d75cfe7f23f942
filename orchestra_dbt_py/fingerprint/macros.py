"""Macros: lookups by name and dispatch suffix, per-macro digests and transitive closures."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestra_dbt_py.fingerprint.canonical import sha256_hex
from orchestra_dbt_py.fingerprint.parts import macro_parts
from orchestra_dbt_py.fingerprint.references import Refs, merge_refs
from orchestra_dbt_py.fingerprint.sql import lex

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest

# A macro whose own parameter or local variable is called `target` cannot see the profile's.
_TARGET_SHADOWED = re.compile(
    r"\bmacro\s+\w+\s*\([^)]*\btarget\b|\bset\s+target\s*=|\bfor\s+(?:\w+\s*,\s*)*target\b"
)


@dataclass(frozen=True)
class _MacroInfo:
    digest: str
    edges: frozenset[str]
    refs: Refs


@dataclass(frozen=True)
class _Closure:
    digest: str
    refs: Refs
    members: tuple[str, ...]


def builtin_packages(adapter_type: str) -> frozenset[str]:
    """The packages of dbt itself and of the adapter (and the adapters it extends)."""
    try:
        from dbt.adapters.factory import get_adapter_package_names

        return frozenset(get_adapter_package_names(adapter_type))
    except Exception:
        # No registered adapter to ask: dbt's and the adapter's own package by convention.
        return frozenset({"dbt", f"dbt_{adapter_type}"})


class MacroIndex:
    """Macro lookups and per-macro memos shared by every node of one computation."""

    def __init__(self, manifest: Manifest) -> None:
        self.macros = manifest.macros
        self.by_name: dict[str, list[str]] = {}
        self.by_dispatch_suffix: dict[str, list[str]] = {}
        for unique_id, macro in self.macros.items():
            name = macro.name
            self.by_name.setdefault(name, []).append(unique_id)
            start = name.find("__")
            while start >= 0:
                suffix = name[start + 2 :]
                if suffix:
                    self.by_dispatch_suffix.setdefault(suffix, []).append(unique_id)
                start = name.find("__", start + 1)
        self.dispatched_all = frozenset(
            unique_id for ids in self.by_dispatch_suffix.values() for unique_id in ids
        )
        self._info: dict[str, _MacroInfo] = {}
        self._closures: dict[frozenset[str], _Closure] = {}
        self._parts: dict[str, dict[str, str]] = {}

    def resolve(self, refs: Refs) -> set[str]:
        """Macro ids that the names in `refs` may denote."""
        found: set[str] = set()
        for word in refs.words:
            ids = self.by_name.get(word)
            if ids:
                found.update(ids)
        for name in refs.dispatched:
            found.update(self.by_name.get(name, ()))
            found.update(self.by_dispatch_suffix.get(name, ()))
        if refs.any_dispatch:
            found.update(self.dispatched_all)
        return found

    def info(self, unique_id: str) -> _MacroInfo:
        cached = self._info.get(unique_id)
        if cached is not None:
            return cached
        macro = self.macros[unique_id]
        normal, jinja = lex(macro.macro_sql)
        refs = Refs()
        for code in jinja:
            refs.scan(code)
        if _TARGET_SHADOWED.search(macro.macro_sql):
            refs.target_attrs.clear()
            refs.any_target = False
        edges = set(macro.depends_on.macros) | self.resolve(refs)
        edges.discard(unique_id)
        info = _MacroInfo(sha256_hex(normal), frozenset(e for e in edges if e in self.macros), refs)
        self._info[unique_id] = info
        return info

    def closure(self, start: frozenset[str]) -> _Closure:
        cached = self._closures.get(start)
        if cached is not None:
            return cached
        seen: set[str] = set()
        stack = [unique_id for unique_id in start if unique_id in self.macros]
        while stack:
            unique_id = stack.pop()
            if unique_id in seen:
                continue
            seen.add(unique_id)
            stack.extend(edge for edge in self.info(unique_id).edges if edge not in seen)
        refs = Refs()
        pairs = []
        for unique_id in sorted(seen):
            info = self.info(unique_id)
            pairs.append(f"{unique_id}={info.digest}")
            merge_refs(refs, info.refs)
        result = _Closure(sha256_hex("\n".join(pairs)), refs, tuple(sorted(seen)))
        self._closures[start] = result
        return result

    def parts(
        self, closure: _Closure, root_package: str, builtin_packages: Collection[str]
    ) -> dict[str, str]:
        """The definition parts of a closure: a part per macro of the root project (by its
        name) and of installed packages (`package.name`), one for dbt's and the adapter's."""
        cached = self._parts.get(closure.digest)
        if cached is None:
            macros = {unique_id: self.macros[unique_id] for unique_id in closure.members}
            cached = macro_parts(
                {unique_id: self.info(unique_id).digest for unique_id in closure.members},
                {
                    unique_id: macro.name
                    if macro.package_name == root_package
                    else f"{macro.package_name}.{macro.name}"
                    for unique_id, macro in macros.items()
                },
                {u for u, macro in macros.items() if macro.package_name in builtin_packages},
            )
            self._parts[closure.digest] = cached
        return cached
