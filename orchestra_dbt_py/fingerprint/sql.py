"""SQL + Jinja normalization: the lexer behind `normalize_sql`.

One pass over a dbt SQL text yields its normal form (comments and insignificant whitespace
dropped, Jinja in one canonical spacing, string literals byte for byte) and the code of every
Jinja block in it, which the reference scan reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


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


def lex(text: str) -> tuple[str, list[str]]:
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
    return lex(text)[0]
