"""State backends: where the state document lives. Every backend stores the same document
(see `document`) and differs only in I/O and in how it keeps concurrent writers apart."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Protocol

from orchestra_dbt_py.config import Settings, has_uri_scheme
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.document import NodeRecord, dump_state, merge_states, parse_state
from orchestra_dbt_py.state.local import LocalFileBackend

__all__ = [
    "LocalFileBackend",
    "NodeRecord",
    "StateBackend",
    "dump_state",
    "merge_states",
    "open_backend",
    "parse_state",
]


class StateBackend(Protocol):
    """What every state backend offers."""

    @property
    def description(self) -> str:
        """Where the state lives, as shown to users (a path or URI; never a secret)."""
        ...

    def load(self) -> dict[str, NodeRecord]:
        """The whole document; OrcError when it is missing, unreadable or corrupt."""
        ...

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """Read, merge (`merge_states`) and write back as one step under the backend's
        concurrency control; returns the merged document."""
        ...

    def init(self) -> bool:
        """Create an empty document if there is none: True when created, False when one was
        already there (which is never touched)."""
        ...

    def exists(self) -> bool:
        """True when a document is there."""
        ...


def open_backend(settings: Settings, on_wait: Callable[[str], None] | None = None) -> StateBackend:
    """The backend the settings select. `on_wait` receives one message when a write has to
    wait for another writer (shown to the user so a pause is not mistaken for a hang)."""
    backend = settings.backend
    if backend is None:
        raise OrcError(
            "no state file configured: set state_file in [tool.orchestra_dbt] of "
            "pyproject.toml or the ORCHESTRA_STATE_FILE environment variable"
        )
    if backend == "http":
        raise OrcError(
            "the HTTP state backend (selected by ORCHESTRA_API_KEY) is not available in this "
            "version of orc yet: unset ORCHESTRA_API_KEY to use state_file instead"
        )
    state_file = settings.state_file
    assert state_file is not None  # backend is only s3/warehouse/local with a state file
    if backend == "s3":
        raise OrcError(
            f"the S3 state backend ({state_file}) is not available in this version of orc "
            "yet: use a local state_file path for now"
        )
    if backend == "warehouse":
        raise OrcError(
            f"the warehouse state backend ({state_file}) is not available in this version of "
            "orc yet: use a local state_file path for now"
        )
    if has_uri_scheme(state_file):
        raise OrcError(
            f"state_file {state_file} uses a scheme orc does not support: use a local path, "
            "s3://bucket/key or warehouse:..."
        )
    return LocalFileBackend(Path(state_file), on_wait=on_wait)
