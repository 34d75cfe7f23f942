"""Definition fingerprints: one sha256 per node over everything that can change its output.

A node may be reused only if its definition is unchanged since its last build (DESIGN §4,
rule 3). The fingerprint computed here is that definition. It is built from a freshly parsed
manifest (no warehouse connection, `compiled_code` still empty) and covers:

- the node's code: SQL normalized by `normalize_sql` (comments and whitespace do not count,
  string literals and Jinja do), Python models as written, seeds by the bytes of their file;
- its config from wherever it was set (`node.config`, minus the `freshness` scheduling
  policy), its descriptions when `persist_docs` writes them, its columns when a contract is
  enforced;
- the relation it builds into and the adapter type;
- for data tests, the test's name, namespace, arguments and the column it is attached to;
- every macro it can call, transitively, package macros included: parse-time dependencies,
  the materialization, incremental and snapshot strategy macros, every known macro name that
  appears in its Jinja, and every `*__name` implementation of an `adapter.dispatch('name')`;
- the effective value of every var and a digest of every env var it or its macros read;
- the relations of its parents, the loading configuration of its sources (not their
  freshness settings), and the full fingerprint of ephemeral parents (their SQL is inlined).

Anything that cannot be read precisely is over-approximated: a `var(...)` call with a
non-literal name brings in every effective var, an `env_var(...)` call with a non-literal name
brings in every env var dbt recorded during parse plus every `DBT_*` variable, an
`adapter.dispatch(...)` with a non-literal name brings in every dispatched implementation.
A false change costs a rebuild; a missed change would serve stale data.

Env var values are never stored: only a sha256 of each enters the (hashed) payload.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dbt.config.runtime import RuntimeConfig
    from dbt.contracts.graph.manifest import Manifest

__all__ = [
    "FINGERPRINT_VERSION",
    "Definitions",
    "fingerprint_definitions",
    "normalize_sql",
    "project_settings",
    "vars_provider",
]

# Bump when the content or layout of the payload changes: every stored fingerprint then
# differs from the new ones, so nothing is reused on the strength of an older algorithm.
FINGERPRINT_VERSION = 1

DEFAULT_RESOURCE_TYPES = frozenset({"model", "seed", "snapshot", "test"})

# Config keys that do not change what a node writes. Only scheduling policy belongs here.
_CONFIG_EXCLUDED = frozenset({"freshness"})
# Source settings that only say how freshness is measured, not what the source holds.
_SOURCE_CONFIG_EXCLUDED = frozenset({"freshness", "loaded_at_field", "loaded_at_query"})


# ---------------------------------------------------------------------------------------------
# SQL + Jinja normalization
# ---------------------------------------------------------------------------------------------


class _Unterminated(Exception):
    """A quote, comment or Jinja block never closes: the text is not normalized."""


# Token classes for the spacing rule (see `_spacing_kept`).
_W = 0  # word: identifiers, numbers, keywords
_O = 1  # operator character
_S = 2  # separator: ( ) [ ] , ;
_Q = 3  # anything else: quoted strings, Jinja blocks, dots, braces, ...
_NL = 4  # a newline that ends a line comment kept because it holds Jinja

_SQL_TOKEN = re.compile(
    r"""
     (?P<ws>[ \t\r\n\f\v]+)
    |(?P<jcomment>\{\#)
    |(?P<jopen>\{[{%])
    |(?P<line>--)
    |(?P<block>/\*)
    |(?P<quote>['"`])
    |(?P<dollar>(?<![\w$])\$(?:[A-Za-z_]\w*)?\$)
    |(?P<word>[\w$@#]+)
    |(?P<sep>[(),;\[\]])
    |(?P<op>[-+*/<>=!~^&|%:])
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

_JINJA_TOKEN = re.compile(
    r"""
     (?P<ws>\s+)
    |(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    |(?P<end>[-+]?(?:\}\}|%\}))
    |(?P<open>[(\[{])
    |(?P<close>[)\]}])
    |(?P<word>\w+)
    |(?P<dot>\.)
    |(?P<op>[-+*/%=<>!~|&^])
    |(?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_J_WORD, _J_OP, _J_DOT, _J_OTHER = 0, 1, 2, 3

_RAW_OPEN = re.compile(r"\{%[-+]?\s*raw\s*[-+]?%\}")
_RAW_CLOSE = re.compile(r"\{%[-+]?\s*endraw\s*[-+]?%\}")
_JINJA_START = re.compile(r"\{[{%#]")
_WS_AFTER = re.compile(r"\s*")
_WS_RUN = re.compile(r"[ \t\r\n\f\v]+")
_STRIPS_BEFORE = re.compile(r"\s*\{[{%#]-")


def _spacing_kept(left: int, right: int) -> bool:
    """Whether whitespace between two SQL tokens can change the statement's meaning.

    Next to a separator it never can; between a word and an operator it never can. Between two
    words (`select a`), two operators (`- -` is not `--`), or next to a quote or a Jinja block
    (`'a' 'b'` is not `'a''b'`, `x{{ y }}` is not `x {{ y }}`) it can, so one space stays.
    """
    if left == _S or right == _S:
        return False
    return not ((left == _W and right == _O) or (left == _O and right == _W))


def _jinja_spacing_kept(left: int, right: int) -> bool:
    """Inside `{{ }}`/`{% %}` whitespace separates words and operators only."""
    if left == _J_DOT or right == _J_DOT:
        return left == _J_WORD or right == _J_WORD
    return left == right and left in (_J_WORD, _J_OP)


@dataclass
class _Quoting:
    """How string literals end: standard SQL, or the permissive reading of some dialects."""

    backslash: bool  # `\'` escapes a quote (MySQL, BigQuery, Spark, Postgres E'')
    triple: bool  # triple-quoted strings (BigQuery)


_STANDARD = _Quoting(backslash=False, triple=False)
_PERMISSIVE = _Quoting(backslash=True, triple=True)


class _Lexer:
    """One pass over a SQL + Jinja text producing its normal form and its Jinja code."""

    def __init__(self, text: str, quoting: _Quoting) -> None:
        self.text = text
        self.quoting = quoting
        self.out: list[str] = []
        self.pending_space = False
        self.prev = _NL
        self.jinja: list[str] = []

    # -- output ---------------------------------------------------------------------------

    def emit(self, token: str, cls: int) -> None:
        if (
            self.out
            and self.pending_space
            and self.prev != _NL
            and cls != _NL
            and _spacing_kept(self.prev, cls)
        ):
            self.out.append(" ")
        self.out.append(token)
        self.prev = cls
        self.pending_space = False

    # -- main loop ------------------------------------------------------------------------

    def run(self) -> str:
        text = self.text
        pos = 0
        end = len(text)
        while pos < end:
            m = _SQL_TOKEN.match(text, pos)
            if m is None:  # pragma: no cover - `other` matches any character
                raise _Unterminated
            kind = m.lastgroup
            if kind == "ws":
                self.pending_space = True
                pos = m.end()
            elif kind == "word":
                self.emit(m.group(), _W)
                pos = m.end()
            elif kind == "op":
                self.emit(m.group(), _O)
                pos = m.end()
            elif kind == "sep":
                self.emit(m.group(), _S)
                pos = m.end()
            elif kind == "other":
                self.emit(m.group(), _Q)
                pos = m.end()
            elif kind == "jopen":
                pos = self.jinja_block(pos)
            elif kind == "jcomment":
                pos = self.jinja_comment(pos)
            elif kind == "line":
                pos = self.line_comment(pos)
            elif kind == "block":
                pos = self.block_comment(pos)
            elif kind == "quote":
                pos = self.quoted(pos, m.group())
            else:  # dollar
                pos = self.dollar_quoted(pos, m.group())
        return "".join(self.out).rstrip("\n")

    # -- Jinja ----------------------------------------------------------------------------

    def jinja_block(self, pos: int) -> int:
        """A `{{ }}` or `{% %}` block at top level: emitted in canonical form."""
        canonical, new_pos, strip_before, strip_after = self.scan_jinja(pos)
        if strip_before:
            self.pending_space = False
        self.emit(canonical, _Q)
        if strip_after:
            new_pos = _WS_AFTER.match(self.text, new_pos).end()  # type: ignore[union-attr]
        return new_pos

    def scan_jinja(self, pos: int) -> tuple[str, int, bool, bool]:
        """Read the Jinja block at `pos`; return (canonical text, end, strips before, after).

        `{% raw %}…{% endraw %}` is returned verbatim. The block's code is recorded in
        `self.jinja` for the reference scan.
        """
        text = self.text
        raw = _RAW_OPEN.match(text, pos)
        if raw is not None:
            close = _RAW_CLOSE.search(text, raw.end())
            if close is None:
                raise _Unterminated
            return text[pos : close.end()], close.end(), False, False
        opener = text[pos : pos + 2]
        closer = "}}" if opener == "{{" else "%}"
        pos += 2
        open_ctrl = ""
        if pos < len(text) and text[pos] in "-+":
            open_ctrl = text[pos]
            pos += 1
        parts: list[str] = []
        prev = -1
        space = False
        depth = 0
        while True:
            m = _JINJA_TOKEN.match(text, pos)
            if m is None:
                raise _Unterminated
            kind = m.lastgroup
            token = m.group()
            if kind == "ws":
                space = True
                pos = m.end()
                continue
            if kind == "end":
                if depth == 0 and token.endswith(closer):
                    close_ctrl = token[:-2]
                    body = "".join(parts)
                    canonical = f"{opener}{open_ctrl} {body} {close_ctrl}{closer}"
                    self.jinja.append(body)
                    return canonical, m.end(), open_ctrl == "-", close_ctrl == "-"
                # Not this block's end: read its first character as an ordinary token.
                token = text[pos]
                if token == "}":
                    kind = "close"
                elif token in "-+%":
                    kind = "op"
                else:  # pragma: no cover - `end` starts with one of -+}%
                    kind = "other"
            pos += len(token)
            if kind == "open":
                depth += 1
                cls = _J_OTHER
            elif kind == "close":
                depth = max(0, depth - 1)
                cls = _J_OTHER
            elif kind == "word":
                cls = _J_WORD
            elif kind == "dot":
                cls = _J_DOT
            elif kind == "op":
                cls = _J_OP
            else:  # str, other
                cls = _J_OTHER
            if space and prev >= 0 and _jinja_spacing_kept(prev, cls):
                parts.append(" ")
            parts.append(token)
            prev = cls
            space = False

    def jinja_comment(self, pos: int) -> int:
        """`{# … #}` renders to nothing: dropped, honouring `{#-` / `-#}` whitespace control."""
        text = self.text
        close = text.find("#}", pos + 2)
        if close < 0:
            raise _Unterminated
        if text.startswith("{#-", pos):
            self.pending_space = False
        new_pos = close + 2
        if close - 1 >= pos + 2 and text[close - 1] == "-":
            new_pos = _WS_AFTER.match(text, new_pos).end()  # type: ignore[union-attr]
        return new_pos

    # -- SQL comments ---------------------------------------------------------------------

    def line_comment(self, pos: int) -> int:
        text = self.text
        eol = text.find("\n", pos)
        if eol < 0:
            eol = len(text)
        if _JINJA_START.search(text, pos, eol) is None and not _STRIPS_BEFORE.match(text, eol):
            self.pending_space = True  # a comment separates tokens like whitespace
            return eol
        # Jinja inside a SQL comment still runs (and may even end the comment), and `{%-` on
        # the next line pulls that line into the comment: keep such a comment.
        body, new_pos = self.kept_comment(pos + 2, "\n")
        self.emit("--" + body, _Q)
        if text[new_pos - 1 : new_pos] == "\n":
            self.emit("\n", _NL)
        return new_pos

    def block_comment(self, pos: int) -> int:
        text = self.text
        close = text.find("*/", pos + 2)
        if close < 0:
            raise _Unterminated
        if _JINJA_START.search(text, pos, close) is None:
            self.pending_space = True
            return close + 2
        body, new_pos = self.kept_comment(pos + 2, "*/")
        self.emit("/*" + body, _Q)
        return new_pos

    def kept_comment(self, pos: int, terminator: str) -> tuple[str, int]:
        """Read a comment that holds Jinja up to `terminator` outside Jinja.

        Returns the comment text (whitespace collapsed, Jinja canonical, terminator included
        unless it is a newline) and the position after the terminator.
        """
        text = self.text
        parts: list[str] = []
        finder = re.compile(re.escape(terminator) + r"|\{[{%#]")
        while True:
            m = finder.search(text, pos)
            if m is None:
                if terminator == "\n":
                    parts.append(_WS_RUN.sub(" ", text[pos:]))
                    return "".join(parts).rstrip(), len(text)
                raise _Unterminated
            parts.append(_WS_RUN.sub(" ", text[pos : m.start()]))
            token = m.group()
            if token == terminator:
                if terminator == "\n":
                    return "".join(parts).rstrip(), m.end()
                parts.append(terminator)
                return "".join(parts), m.end()
            if token == "{#":
                pos = self._skip_jinja_comment(m.start())
            else:
                canonical, pos, _, _ = self.scan_jinja(m.start())
                parts.append(canonical)

    def _skip_jinja_comment(self, pos: int) -> int:
        close = self.text.find("#}", pos + 2)
        if close < 0:
            raise _Unterminated
        return close + 2

    # -- quoted text ----------------------------------------------------------------------

    def quoted(self, pos: int, quote: str) -> int:
        """A quoted string or identifier, kept verbatim; Jinja inside it is still read."""
        text = self.text
        if self.quoting.triple and quote != "`" and text.startswith(quote * 3, pos):
            delimiter = quote * 3
            start = pos + 3
        else:
            delimiter = quote
            start = pos + 1
        pattern = (r"\\.|" if self.quoting.backslash else "") + re.escape(delimiter)
        if len(delimiter) == 1:
            pattern += "{2}|" + re.escape(delimiter)
        finder = re.compile(pattern + r"|\{[{%#]", re.DOTALL)
        end = self._verbatim_until(start, finder, delimiter)
        self.emit(text[pos:end], _Q)
        return end

    def dollar_quoted(self, pos: int, tag: str) -> int:
        finder = re.compile(re.escape(tag) + r"|\{[{%#]")
        end = self._verbatim_until(pos + len(tag), finder, tag)
        self.emit(self.text[pos:end], _Q)
        return end

    def _verbatim_until(self, pos: int, finder: re.Pattern[str], delimiter: str) -> int:
        text = self.text
        while True:
            m = finder.search(text, pos)
            if m is None:
                raise _Unterminated
            token = m.group()
            if token == delimiter:
                return m.end()
            if token == "{#":
                pos = self._skip_jinja_comment(m.start())
            elif token in ("{{", "{%"):
                _, pos, _, _ = self.scan_jinja(m.start())
            else:  # an escape: doubled quote or backslash sequence
                pos = m.end()


def _lex(text: str) -> tuple[str, list[str]]:
    """Normal form of `text` and the code of every Jinja block in it.

    The text is read twice when a backslash or a triple quote makes the end of a string depend
    on the SQL dialect; if the two readings disagree, or anything is left unterminated, the
    text is returned unchanged (no comment or whitespace is dropped) and the whole of it is
    treated as Jinja code for the reference scan.
    """
    try:
        standard = _Lexer(text, _STANDARD)
        normal = standard.run()
        dialect_dependent = "\\" in text or "'''" in text or '"""' in text
        if dialect_dependent and _Lexer(text, _PERMISSIVE).run() != normal:
            return text, [text]
    except _Unterminated:
        return text, [text]
    return normal, standard.jinja


def normalize_sql(text: str) -> str:
    """Normal form of a dbt SQL text: equal for edits that only touch comments or whitespace.

    Drops `-- …` and `/* … */` comments (those holding Jinja are kept: Jinja runs there too)
    and `{# … #}` comments; collapses each whitespace run to one space, or to nothing where it
    cannot matter (next to `( ) [ ] , ;`, between a word and an operator); writes Jinja
    blocks in one canonical spacing. Single-quoted strings (with `''` escapes), double-quoted
    and backquoted identifiers, dollar-quoted bodies and the string arguments inside Jinja are
    kept byte for byte. When the end of a string depends on the dialect (backslash escapes,
    triple quotes) and the readings disagree, or something never closes, the text is returned
    unchanged.
    """
    return _lex(text)[0]


# ---------------------------------------------------------------------------------------------
# What a piece of code refers to
# ---------------------------------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_]\w*")
_DISPATCH_CALL = re.compile(r"\bdispatch\s*\(")
_DISPATCH_LITERAL = re.compile(r"""\bdispatch\s*\(\s*(?:macro_name\s*=\s*)?(['"])(\w+)\1""")
_VAR_CALL = re.compile(r"\bvar\s*\(")
_VAR_LITERAL = re.compile(r"""\bvar\s*\(\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*[,)]""")
_ENV_CALL = re.compile(r"\benv_var\s*\(")
_ENV_LITERAL = re.compile(r"""\benv_var\s*\(\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*[,)]""")
# `target` not used as a keyword argument name (`f(target=x)`).
_TARGET_REF = re.compile(r"\btarget\b(?!\s*=(?!=))(?:\s*\.\s*(\w+))?")
# A macro whose own parameter or local variable is called `target` cannot see the profile's.
_TARGET_SHADOWED = re.compile(
    r"\bmacro\s+\w+\s*\([^)]*\btarget\b|\bset\s+target\s*=|\bfor\s+(?:\w+\s*,\s*)*target\b"
)


@dataclass
class _Refs:
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
        for code in _lex(text)[1]:
            self.scan(code)

    def scan_strings(self, value: Any) -> None:
        """Scan every string that holds Jinja inside a value made by `_plain`."""
        for text in _strings_in(value):
            if "{{" in text or "{%" in text:
                self.scan_template(text)


def _strings_in(value: Any) -> Iterator[str]:
    """Every string (keys included) inside a value made by `_plain`."""
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


# ---------------------------------------------------------------------------------------------
# Canonical JSON and hashing
# ---------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready copy of `value` whose serialization does not depend on ordering or hash
    randomization: mapping keys become strings (typed when they were not strings), sets become
    sorted lists, dbt objects their `to_dict()`, anything else its `str()`."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {
            (key if isinstance(key, str) else f"<{type(key).__name__}>{key}"): _plain(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain(item) for item in value), key=_canonical)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _plain(to_dict())
    return str(value)


def _canonical(value: Any) -> str:
    """Canonical JSON of `value`. Its mappings must have string keys: pass foreign data
    (configs, arguments, var values) through `_plain` first."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _env_digest(name: str, value: str | None) -> str | None:
    """What the payload holds for an env var: a digest of its value, never the value."""
    if value is None:
        return None
    return _sha256(f"orc-env\0{name}\0{value}")


def _file_digest(path: Path) -> str | None:
    try:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()
    except FileNotFoundError:
        return None


# ---------------------------------------------------------------------------------------------
# Vars
# ---------------------------------------------------------------------------------------------


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
    return {"dispatch": _plain(config.dispatch), "flags": _plain(config.flags)}


# ---------------------------------------------------------------------------------------------
# Macros
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _MacroInfo:
    digest: str
    edges: frozenset[str]
    refs: _Refs


@dataclass(frozen=True)
class _Closure:
    digest: str
    refs: _Refs


class _MacroIndex:
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

    def resolve(self, refs: _Refs) -> set[str]:
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
        normal, jinja = _lex(macro.macro_sql)
        refs = _Refs()
        for code in jinja:
            refs.scan(code)
        if _TARGET_SHADOWED.search(macro.macro_sql):
            refs.target_attrs.clear()
            refs.any_target = False
        edges = set(macro.depends_on.macros) | self.resolve(refs)
        edges.discard(unique_id)
        info = _MacroInfo(_sha256(normal), frozenset(e for e in edges if e in self.macros), refs)
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
        refs = _Refs()
        pairs = []
        for unique_id in sorted(seen):
            info = self.info(unique_id)
            pairs.append(f"{unique_id}={info.digest}")
            _merge_refs(refs, info.refs)
        result = _Closure(_sha256("\n".join(pairs)), refs)
        self._closures[start] = result
        return result


def _merge_refs(into: _Refs, other: _Refs) -> None:
    into.vars |= other.vars
    into.any_var |= other.any_var
    into.envs |= other.envs
    into.any_env |= other.any_env
    into.target_attrs |= other.target_attrs
    into.any_target |= other.any_target


# ---------------------------------------------------------------------------------------------
# Fingerprints
# ---------------------------------------------------------------------------------------------


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
        self.settings = None if settings is None else _plain(settings)
        self.macros = _MacroIndex(manifest)
        self.project_name = manifest.metadata.project_name or ""
        self.done: dict[str, str] = {}
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
            found = _sha256(_canonical(self.payload(self.manifest.nodes[unique_id])))
            self.done[unique_id] = found
        return found

    def payload(self, node: Any) -> dict[str, Any]:
        resource_type = str(node.resource_type)
        config = _plain(node.config.to_dict())
        for key in _CONFIG_EXCLUDED:
            config.pop(key, None)
        refs = _Refs()
        refs.scan_strings(config)
        payload: dict[str, Any] = {
            "fingerprint_version": FINGERPRINT_VERSION,
            "settings": self.settings,
            "resource_type": resource_type,
            "language": str(getattr(node, "language", "") or ""),
            "config": config,
            "relation": {
                "adapter_type": self.adapter_type,
                "database": node.database,
                "schema": node.schema,
                "alias": getattr(node, "alias", None),
                "relation_name": getattr(node, "relation_name", None),
                "version": getattr(node, "version", None),
            },
        }
        payload["code"] = self.code(node, resource_type, refs)
        payload.update(self.docs_and_contract(node, config))
        test_metadata = getattr(node, "test_metadata", None)
        if test_metadata is not None:
            kwargs = _plain(test_metadata.kwargs)
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
            }
        payload["parents"] = self.parents(node)
        payload.update(self.references(node, config, refs))
        return payload

    # -- parts ----------------------------------------------------------------------------

    def code(self, node: Any, resource_type: str, refs: _Refs) -> Any:
        if resource_type == "seed":
            path = Path(node.root_path) / node.original_file_path
            return {"seed_file_sha256": _file_digest(path), "path": node.original_file_path}
        raw_code = getattr(node, "raw_code", "") or ""
        if str(getattr(node, "language", "sql")) == "python":
            refs.scan(raw_code)
            return raw_code
        normal, jinja = _lex(raw_code)
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
                    "constraints": _plain(column.constraints),
                    "quote": column.quote,
                }
                for name, column in columns.items()
            }
            extra["contract_constraints"] = _plain(getattr(node, "constraints", None))
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
                    result.append(
                        {"id": parent_id, "relation": getattr(parent, "relation_name", None)}
                    )
                continue
            source = self.manifest.sources.get(parent_id)
            if source is not None:
                source_config = _plain(source.config.to_dict())
                for key in _SOURCE_CONFIG_EXCLUDED:
                    source_config.pop(key, None)
                result.append(
                    {
                        "id": parent_id,
                        "relation": source.relation_name,
                        "external": _plain(source.external),
                        "meta": _plain(source.meta),
                        "config": source_config,
                    }
                )
                continue
            result.append({"id": parent_id, "unknown": True})
        return result

    def references(self, node: Any, config: Mapping[str, Any], refs: _Refs) -> dict[str, Any]:
        """Macros (transitively), vars, env vars and target attributes the node reads."""
        start = set(getattr(getattr(node, "depends_on", None), "macros", None) or ())
        start |= self.materialization_macros(str(config.get("materialized") or ""))
        start |= self.strategy_macros(config)
        if str(getattr(node, "language", "sql")) == "python":
            for name in _PYTHON_MODEL_MACROS:
                start.update(self.macros.by_name.get(name, ()))
        package_vars = self.package_vars(node.package_name)  # values made by `_plain`
        var_values: dict[str, Any] = {}
        scanned_vars: set[str] = set()
        while True:
            start |= self.macros.resolve(refs)
            closure = self.macros.closure(frozenset(start))
            all_refs = _Refs()
            _merge_refs(all_refs, refs)
            _merge_refs(all_refs, closure.refs)
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
        if all_refs.any_var or all_refs.any_env or all_refs.any_target:
            self.computed_reads.add(node.unique_id)
        if all_refs.any_var:
            result["all_vars"] = dict(package_vars)
        result["env_vars"] = {
            name: _env_digest(name, self.env.get(name)) for name in sorted(all_refs.envs)
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
                attr: _sha256(_canonical(_plain(target[attr]))) if attr in target else None
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
                str(name): _plain(value)
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
            self._all_env = {name: _env_digest(name, self.env.get(name)) for name in sorted(names)}
        return self._all_env


def _default_node_ids(manifest: Manifest) -> Iterable[str]:
    for unique_id, node in manifest.nodes.items():
        if str(node.resource_type) in DEFAULT_RESOURCE_TYPES:
            yield unique_id


@dataclass(frozen=True)
class Definitions:
    fingerprints: dict[str, str]
    # The nodes among them that read a var, env var or target field by a computed name.
    computed_reads: frozenset[str]


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
    """sha256 hex digest of each node's definition (see the module docstring for the inputs).

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
        fingerprints, frozenset(fingerprinter.computed_reads.intersection(fingerprints))
    )
