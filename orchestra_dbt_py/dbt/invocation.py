"""One dbt invocation id for one orc command.

dbt draws a new invocation id in the preflight of every invocation (dbt-core 1.10 to 1.12 call
`dbt_common.invocation.reset_invocation_id` from `dbt.cli.requires`), and its events and
artifacts carry `get_invocation_id()`. One orc command invokes dbt several times (parse,
ls, build): inside `one_invocation_id` they all keep the id drawn on entry, so that dbt's
lines, orc's own lines and the run's artifacts share it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dbt.cli.requires
from dbt_common.invocation import get_invocation_id, reset_invocation_id

__all__ = ["invocation_id", "one_invocation_id"]

_RESET = "reset_invocation_id"


def invocation_id() -> str:
    """The id dbt's events carry now."""
    return get_invocation_id()


def _keep_the_id() -> None:
    """Stands in for dbt's reset while an orc command runs."""


@contextmanager
def one_invocation_id() -> Iterator[str]:
    """Draw one invocation id and let every dbt invocation in the block keep it. Where dbt
    no longer resets the id through `dbt.cli.requires`, each invocation keeps its own (and
    `invocation_id()` still names the current one)."""
    reset_invocation_id()
    original = getattr(dbt.cli.requires, _RESET, None)
    if original is not None:
        setattr(dbt.cli.requires, _RESET, _keep_the_id)
    try:
        yield get_invocation_id()
    finally:
        if original is not None:
            setattr(dbt.cli.requires, _RESET, original)
