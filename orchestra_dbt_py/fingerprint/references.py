"""What a piece of code refers to: macro names, dispatched macros, vars, env vars, target."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from orchestra_dbt_py.fingerprint.sql import lex

_IDENT = re.compile(r"[A-Za-z_]\w*")
_DISPATCH_CALL = re.compile(r"\bdispatch\s*\(")
_DISPATCH_LITERAL = re.compile(r"""\bdispatch\s*\(\s*(?:macro_name\s*=\s*)?(['"])(\w+)\1""")
_VAR_CALL = re.compile(r"\bvar\s*\(")
_VAR_LITERAL = re.compile(r"""\bvar\s*\(\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*[,)]""")
_ENV_CALL = re.compile(r"\benv_var\s*\(")
_ENV_LITERAL = re.compile(r"""\benv_var\s*\(\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*[,)]""")
# `target` not used as a keyword argument name (`f(target=x)`).
_TARGET_REF = re.compile(r"\btarget\b(?!\s*=(?!=))(?:\s*\.\s*(\w+))?")


@dataclass
class Refs:
    """Names a piece of code mentions: macros, dispatched macros, vars, env vars, target."""

    words: set[str] = field(default_factory=set)
    dispatched: set[str] = field(default_factory=set)
    any_dispatch: bool = False
    vars: set[str] = field(default_factory=set)
    any_var: bool = False
    envs: set[str] = field(default_factory=set)
    any_env: bool = False
    target_attrs: set[str] = field(default_factory=set)
    any_target: bool = False

    def scan(self, code: str) -> None:
        self.words.update(_IDENT.findall(code))
        literal_dispatch = [m.group(2) for m in _DISPATCH_LITERAL.finditer(code)]
        self.dispatched.update(literal_dispatch)
        if len(_DISPATCH_CALL.findall(code)) > len(literal_dispatch):
            self.any_dispatch = True
        literal_vars = [a or b for a, b in _VAR_LITERAL.findall(code)]
        self.vars.update(literal_vars)
        if len(_VAR_CALL.findall(code)) > len(literal_vars):
            self.any_var = True
        literal_envs = [a or b for a, b in _ENV_LITERAL.findall(code)]
        self.envs.update(literal_envs)
        if len(_ENV_CALL.findall(code)) > len(literal_envs):
            self.any_env = True
        for m in _TARGET_REF.finditer(code):
            attr = m.group(1)
            if attr is None or attr in ("get", "items", "keys", "values"):
                self.any_target = True
            else:
                self.target_attrs.add(attr)

    def scan_template(self, text: str) -> None:
        """Scan the Jinja code of a SQL + Jinja template."""
        for code in lex(text)[1]:
            self.scan(code)

    def scan_strings(self, value: Any) -> None:
        """Scan every string that holds Jinja inside a value made by `plain`."""
        for text in _strings_in(value):
            if "{{" in text or "{%" in text:
                self.scan_template(text)


def _strings_in(value: Any) -> Iterator[str]:
    """Every string (keys included) inside a value made by `plain`."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def merge_refs(into: Refs, other: Refs) -> None:
    """Add the vars, env vars and target attributes `other` reads to `into` (not its macro
    names: those are resolved to macro ids first)."""
    into.vars |= other.vars
    into.any_var |= other.any_var
    into.envs |= other.envs
    into.any_env |= other.any_env
    into.target_attrs |= other.target_attrs
    into.any_target |= other.any_target
