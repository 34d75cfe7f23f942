"""normalize_sql: comments and whitespace do not count; strings, identifiers and Jinja do."""

import pytest

from orchestra_dbt_py.fingerprint import normalize_sql


def same(a: str, b: str) -> bool:
    return normalize_sql(a) == normalize_sql(b)


# -- comments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("select 1 -- trailing comment\nfrom t", "select 1 from t"),
        ("-- leading comment\nselect 1", "select 1"),
        ("select 1 -- comment at end of file", "select 1"),
        ("select /* inline */ 1", "select 1"),
        ("select 1 /* spans\n  several\n  lines */ from t", "select 1 from t"),
        ("select 1 {# jinja comment #} from t", "select 1 from t"),
        ("{# a {{ commented_out() }} call #}select 1", "select 1"),
        ("select a/* glued */b", "select a b"),
        ("select a{# jinja comment renders to nothing #}b", "select ab"),
        ("select 1 --no space after dashes\n", "select 1"),
        ("select 1 -- it's fine: quotes in comments\nfrom t", "select 1 from t"),
        ("select 1 /* it's fine */ from t", "select 1 from t"),
        ("select 1 /* a /* not nested */ from t", "select 1 from t"),
    ],
)
def test_comments_are_dropped(text: str, expected: str) -> None:
    assert normalize_sql(text) == expected


def test_comment_styles_are_interchangeable() -> None:
    variants = [
        "select id from t",
        "select id -- the key\nfrom t",
        "select id /* the key */ from t",
        "select id {# the key #} from t",
        "/* header */\n-- more header\n{# and more #}\nselect id\nfrom t\n-- footer",
    ]
    assert len({normalize_sql(v) for v in variants}) == 1


def test_jinja_comment_whitespace_control() -> None:
    assert normalize_sql("a {#- c -#} b") == "ab"
    assert normalize_sql("a {#- c #} b") == "a b"
    assert normalize_sql("a {# c -#} b") == "a b"


def test_sql_comment_holding_jinja_is_kept() -> None:
    # Jinja inside a SQL comment still runs: it may set variables, or render a newline that
    # ends the comment. Such comments count.
    text = "-- {{ var('x') }}\nselect 1"
    assert normalize_sql(text) == "-- {{ var('x') }}\nselect 1"
    assert not same(text, "-- {{ var('y') }}\nselect 1")
    assert not same("select 1 /* {{ a }} */", "select 1 /* {{ b }} */")
    # ... and text moved onto the comment's line is then commented out: a change.
    assert not same("-- {{ x }}\nselect 1", "-- {{ x }} select 1")


def test_block_markers_inside_kept_line_comment_do_not_open_a_comment() -> None:
    before = "-- {{ x }} /*\nselect 1 */"
    after = "-- {{ x }} /*\nselect 2 */"
    assert not same(before, after)


def test_comment_before_whitespace_stripping_jinja_is_kept() -> None:
    # `{%-` strips the newline before it, pulling what follows into the line comment.
    assert not same(
        "select a -- c\n{%- if x %}, b{% endif %}", "select a\n{%- if x %}, b{% endif %}"
    )


# -- whitespace ----------------------------------------------------------------------------


def test_whitespace_runs_collapse() -> None:
    assert normalize_sql("select\n    a,\n\tb\r\nfrom   t  ") == "select a,b from t"
    assert same("select a, b from t where x = 1", "select a,b from t where x=1")
    assert same("select count( * ) from t", "select count(*) from t")
    assert same("  select 1  ", "select 1")


def test_whitespace_that_separates_tokens_stays() -> None:
    assert not same("select a b", "select ab")
    assert not same("select 'a' 'b'", "select 'a''b'")
    assert not same("select x'ab'", "select x 'ab'")
    assert not same("select - -1", "select --1")
    assert not same("select a / * b", "select a /* b")
    assert not same("select 1 .5", "select 1.5")
    assert not same("select {{ a }}{{ b }}", "select {{ a }} {{ b }}")
    assert not same("select x{{ y }}", "select x {{ y }}")


# -- string literals and quoted identifiers -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "select 'a--b' as x",
        "select 'a/*b*/c' as x",
        "select '{# not a comment #}' as x",
        "select 'a  b' as x",
        "select 'it''s -- here' as x",
        "select '' as empty, '''' as quote",
        'select "a  --  b" from t',
        "select `weird--name` from t",
        "select $$ body -- with /* comment-like */ text $$",
        "select $fn$ a  b $fn$",
    ],
)
def test_quoted_text_is_untouched(text: str) -> None:
    assert normalize_sql(text) == text


def test_string_edits_are_changes() -> None:
    assert not same("select 'a--b'", "select 'a--c'")
    assert not same("select 'a  b'", "select 'a b'")
    assert not same("select 'a/*b*/'", "select 'a/*c*/'")
    assert not same("select 'it''s -- x'", "select 'it''s -- y'")
    assert not same('select "a  b" from t', 'select "a b" from t')
    assert not same("select $$ a -- b $$", "select $$ a -- c $$")


def test_doubled_quote_does_not_end_the_string() -> None:
    # Were `''` read as the end of one string and the start of another, `-- y'` would be a
    # comment and the edit would vanish.
    assert not same("select 'a'' -- x' as c", "select 'a'' -- y' as c")


def test_dialect_dependent_strings_are_not_normalized() -> None:
    # `\'` ends the string in standard SQL but escapes the quote in MySQL/BigQuery: the
    # two readings disagree on what is a comment, so nothing is dropped.
    text = "select 'a\\' -- b' as x -- c"
    assert normalize_sql(text) == text
    assert not same(text, "select 'a\\' -- z' as x -- c")
    triple = "select '''it's -- here''' as x"
    assert normalize_sql(triple) == triple


def test_backslash_that_both_readings_agree_on_is_normalized() -> None:
    assert normalize_sql("select 'C:\\\\dir'  -- c\nfrom t") == "select 'C:\\\\dir' from t"


def test_unterminated_text_is_returned_unchanged() -> None:
    for text in ["select 'abc", "select /* abc", "select {{ x", "select {# x"]:
        assert normalize_sql(text) == text


# -- Jinja ---------------------------------------------------------------------------------


def test_jinja_spacing_is_canonical() -> None:
    assert normalize_sql("select {{ref('a')}}") == "select {{ ref('a') }}"
    assert same("{{ ref( 'a' ) }}", "{{ref('a')}}")
    assert same("{% if x  and  y %}1{% endif %}", "{%if x and y%}1{%endif%}")
    assert same("{{ x | default( 'a' ) }}", "{{ x|default('a') }}")
    assert not same("{% if not x %}", "{% if notx %}")


def test_jinja_string_arguments_are_untouched() -> None:
    assert normalize_sql("{{ var('a  b') }}") == "{{ var('a  b') }}"
    assert not same("{{ var('a--b') }}", "{{ var('a--c') }}")
    assert not same("{{ f('/* x */') }}", "{{ f('/* y */') }}")
    assert normalize_sql('{{ f("it\'s -- }}") }} -- c') == '{{ f("it\'s -- }}") }}'


def test_jinja_inside_sql_strings_is_read_as_jinja() -> None:
    # The quote inside the Jinja string does not end the SQL string.
    text = "select '{{ \"it's\" }}' as x -- comment"
    assert normalize_sql(text) == "select '{{ \"it's\" }}' as x"


def test_jinja_whitespace_control_is_significant() -> None:
    assert not same("{{ -x }}", "{{- x }}")
    assert same("a {{- x }}", "a{{- x }}")
    assert same("{{ x -}}   b", "{{ x -}}b")
    assert not same("{{ x }} b", "{{ x }}b")


def test_nested_braces_inside_jinja() -> None:
    assert normalize_sql("{{ {'a': {'b': 1}} }} -- c") == "{{ {'a':{'b':1}} }}"
    assert normalize_sql("{% set d = {'a': {'b': 1}} %}x") == "{% set d={'a':{'b':1}} %}x"


def test_raw_blocks_are_verbatim() -> None:
    text = "{% raw %}  {{ not jinja }}  -- not a comment {% endraw %}"
    assert normalize_sql(text) == text


def test_jinja_comment_hides_everything_inside() -> None:
    assert same("select 1 {# {{ a }} 'unclosed #}", "select 1")


def test_macro_definitions() -> None:
    before = """
{% macro cents_to_dollars(column, scale=2) %}
    -- convert cents
    round({{ column }} / 100, {{ scale }})
{%- endmacro %}
"""
    after = (
        "{%macro cents_to_dollars(column,scale=2)%} round({{column}} / 100,{{scale}}) {%-endmacro%}"
    )
    assert same(before, after)
    assert not same(before, before.replace("100", "1000"))
