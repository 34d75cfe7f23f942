"""Moving state between places: `push` a state file into a backend, `migrate` one backend's
items into another. Both write with the backend's `update`, so the merge rule applies: for a
key both sides hold, the item with the newer `last_updated` wins, and nothing newer in the
target is ever replaced by something older.

The CLI wires them as `orc state push FILE` and `orc state migrate --from URI --to URI`
(URIs as understood by `orchestra_dbt_py.state.backend_for_uri`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orchestra_dbt_py.core.document import decode_document, parse_unsaved
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.backend import StateBackend

__all__ = ["TransferResult", "migrate", "push", "read_state_file"]


@dataclass(frozen=True)
class TransferResult:
    """What a push or migrate did.

    `sent`: items offered to the target; `removed`: keys asked to be removed (only a push of
    an unsaved-state file has any); `total`: items in the target afterwards (within the
    target's account prefix, if any); `target`: the target's description."""

    sent: int
    removed: int
    total: int
    target: str


def read_state_file(path: Path) -> tuple[dict[str, NodeRecord], list[str]]:
    """Parse a state file for `push`: a state document (docs/design.md), optionally with the
    `"removed": [keys]` list that unsaved-state files carry. Returns (items, removals)."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OrcError(f"cannot read state file {path} ({reason}): check the path") from None
    return parse_unsaved(decode_document(data, str(path)), str(path))


def push(backend: StateBackend, path: Path) -> TransferResult:
    """Merge the state file at `path` into `backend` with one `update`.

    The file is a state document, or an unsaved-state file written by the HTTP backend when a
    save failed (its `"removed"` keys are removed too). The file is left in place. OrcError
    when the file is missing or invalid, or when the backend cannot be written.
    """
    items, removed = read_state_file(path)
    merged = backend.update(items, removed)
    return TransferResult(
        sent=len(items), removed=len(removed), total=len(merged), target=backend.description
    )


def migrate(source: StateBackend, target: StateBackend) -> TransferResult:
    """Copy every item of `source` into `target`, creating the target document if needed
    (`init`), then merging with one `update`. The source is only read.

    Items the target already holds with a newer `last_updated` are kept (merge rule), so
    running a migration twice, or in both directions, loses nothing.
    """
    if source.description == target.description:
        raise OrcError(
            f"--from and --to are the same state ({source.description}): name two different ones"
        )
    items = source.load()
    target.init()
    merged = target.update(items)
    return TransferResult(sent=len(items), removed=0, total=len(merged), target=target.description)
