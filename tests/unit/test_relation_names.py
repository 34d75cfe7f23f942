"""A relation's name read back from a state record's text (core/relation_names.py)."""

from __future__ import annotations

import pytest

from orchestra_dbt_py.core.relation_names import NamePart, RelationName, split_relation


def quoted(name: str) -> NamePart:
    return NamePart(name, True)


def bare(name: str) -> NamePart:
    return NamePart(name, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '"db"."prod"."fct_orders"',
            RelationName(quoted("db"), quoted("prod"), quoted("fct_orders")),
        ),
        (
            "ANALYTICS.PROD.FCT_ORDERS",
            RelationName(bare("ANALYTICS"), bare("PROD"), bare("FCT_ORDERS")),
        ),
        (
            "`my-project`.`prod`.`fct_orders`",
            RelationName(quoted("my-project"), quoted("prod"), quoted("fct_orders")),
        ),
        # Dots and quotes inside quoted parts; a doubled quote is one quote.
        (
            '"my.db"."pr""od"."a.b""c"',
            RelationName(quoted("my.db"), quoted('pr"od'), quoted('a.b"c')),
        ),
        ("`a``b`.`c.d`.`e`", RelationName(quoted("a`b"), quoted("c.d"), quoted("e"))),
        # The other quote character is an ordinary character inside.
        ('`it"s`.s.`t`', RelationName(quoted('it"s'), bare("s"), quoted("t"))),
        # Mixed quoting, and a warehouse without databases (Spark).
        ('analytics."Prod".fct', RelationName(bare("analytics"), quoted("Prod"), bare("fct"))),
        ("`prod`.`fct_orders`", RelationName(None, quoted("prod"), quoted("fct_orders"))),
    ],
)
def test_split_relation(text: str, expected: RelationName) -> None:
    assert split_relation(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fct_orders", "found 1 part"),
        ('"a"."b"."c"."d"', "found 4 part"),
        ('"db"."prod"."fct', "unclosed"),
        ('"db".."t"', "empty or spaced"),
        ('"db"."".t', "empty quoted part"),
        ('"db"."s"x."t"', "unexpected 'x'"),
        ("db. s.t", "empty or spaced"),
        ("", "empty or spaced"),
    ],
)
def test_split_relation_refuses_what_is_no_name(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        split_relation(text)
