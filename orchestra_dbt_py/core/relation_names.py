"""A relation's name read back from the text a state record holds (`relation.render()`):
`"db"."prod"."fct_orders"`, `analytics.prod.fct_orders`, `` `project`.`dataset`.`t` ``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NamePart", "RelationName", "split_relation"]

_QUOTES = ('"', "`")


@dataclass(frozen=True)
class NamePart:
    """One dot-separated part: its name as the warehouse stores it when quoted, and whether
    it was quoted (an unquoted part keeps the warehouse's own case folding)."""

    name: str
    quoted: bool


@dataclass(frozen=True)
class RelationName:
    database: NamePart | None
    schema: NamePart
    identifier: NamePart


def split_relation(text: str) -> RelationName:
    """The parts of a rendered relation name: database.schema.identifier, or
    schema.identifier where the warehouse has no database (Spark). A part may be quoted with
    `"` or a backquote; inside, a doubled quote stands for one, and dots are part of the name.
    Raises ValueError naming what is wrong."""
    parts: list[NamePart] = []
    position, end = 0, len(text)
    while True:
        part, position = _read_part(text, position)
        parts.append(part)
        if position == end:
            break
        if text[position] != ".":
            raise ValueError(f"{text!r} is not a relation name: unexpected {text[position]!r}")
        position += 1
    if len(parts) == 3:
        return RelationName(*parts)
    if len(parts) == 2:
        return RelationName(None, *parts)
    raise ValueError(
        f"{text!r} is not a relation name: expected database.schema.name or schema.name, "
        f"found {len(parts)} part(s)"
    )


def _read_part(text: str, position: int) -> tuple[NamePart, int]:
    """The part starting at `position` and the position just after it."""
    if position < len(text) and text[position] in _QUOTES:
        quote = text[position]
        name: list[str] = []
        position += 1
        while True:
            closing = text.find(quote, position)
            if closing < 0:
                raise ValueError(f"{text!r} is not a relation name: unclosed {quote}")
            name.append(text[position:closing])
            position = closing + 1
            if text.startswith(quote, position):  # a doubled quote: one quote in the name
                name.append(quote)
                position += 1
                continue
            break
        if not "".join(name):
            raise ValueError(f"{text!r} is not a relation name: an empty quoted part")
        return NamePart("".join(name), True), position
    stop = position
    while stop < len(text) and text[stop] != "." and text[stop] not in _QUOTES:
        stop += 1
    bare = text[position:stop]
    if not bare or bare != bare.strip():
        raise ValueError(f"{text!r} is not a relation name: an empty or spaced part")
    return NamePart(bare, False), stop
