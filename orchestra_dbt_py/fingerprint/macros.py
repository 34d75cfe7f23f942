"""Macros: lookups by name and dispatch suffix, per-macro digests and transitive closures."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orchestra_dbt_py.fingerprint.canonical import sha256_hex
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
        result = _Closure(sha256_hex("\n".join(pairs)), refs)
        self._closures[start] = result
        return result
