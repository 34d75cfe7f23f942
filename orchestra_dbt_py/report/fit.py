"""Text that fits the terminal: long names and reasons end in an ellipsis. Output that goes
to a file or another program, and `--wide`, keep every character."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence

ELLIPSIS = "…"


def console_width(wide: bool) -> int | None:
    """The width to fit (the terminal's, or COLUMNS), or None to print lines whole: with
    `--wide`, and when stdout is not a terminal (a file or another program reads it)."""
    if wide or not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def ellipsize(text: str, width: int) -> str:
    """`text`, cut to `width` characters with an ellipsis when longer."""
    if len(text) <= width:
        return text
    return text[: max(0, width - 1)] + ELLIPSIS if width > 0 else ""


def fit_table(
    rows: Sequence[Sequence[str]],
    width: int | None,
    shrink: Sequence[tuple[int, int]] = (),
) -> list[str]:
    """The rows as aligned columns two spaces apart (the last column unpadded). When the
    lines are wider than `width`, each `(column, narrowest)` of `shrink` in turn cuts that
    column down to at most `narrowest` characters, and a line still too wide is cut at the
    end."""
    if not rows:
        return []
    count = len(rows[0])
    widths = [max(len(row[i]) for row in rows) for i in range(count)]
    if width is not None:
        excess = sum(widths) + 2 * (count - 1) - width
        for column, narrowest in shrink:
            cut = max(0, min(excess, widths[column] - narrowest))
            widths[column] -= cut
            excess -= cut
    lines = []
    for row in rows:
        cells = [ellipsize(cell, w) for cell, w in zip(row, widths, strict=True)]
        padded = [cell.ljust(w) for cell, w in zip(cells[:-1], widths, strict=False)]
        text = "  ".join([*padded, cells[-1]])
        lines.append(text if width is None else ellipsize(text, width))
    return lines
