"""State backends: where the state document lives. Every backend stores the same document
(see `document`) and differs only in I/O and in how it keeps concurrent writers apart.

* `LocalFileBackend` (`local`): a JSON file; exclusive lock, atomic replacement.
* `S3Backend` (`s3`): `s3://bucket/key`; conditional writes (needs the `s3` extra, boto3).
* `HttpBackend` (`http`): the Orchestra API, selected by ORCHESTRA_API_KEY.
* `WarehouseBackend` (`warehouse`): `warehouse:<schema>.<table>`, a table in the target
  warehouse written through the dbt adapter (also written by the package's dbt hooks).

`open_backend` opens the backend the settings select; `backend_for_uri` opens one named by a
URI (for `orc state migrate`): a local path, `s3://bucket/key`, `warehouse:<schema>.<table>`,
or `orchestra://` for the Orchestra API (key from ORCHESTRA_API_KEY, server from ORCHESTRA_ENV
or ORCHESTRA_API_BASE_URL). The S3, HTTP and warehouse modules are imported only when used.
The warehouse backend runs the dbt project of the current directory (its default target, or
DBT_TARGET / DBT_PROFILES_DIR) unless `dbt` gives the session of the running command.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from orchestra_dbt_py.config import Settings, has_uri_scheme
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.document import NodeRecord, dump_state, merge_states, parse_state
from orchestra_dbt_py.state.local import LocalFileBackend

if TYPE_CHECKING:
    from orchestra_dbt_py.state.warehouse import MacroCaller

# `backend_for_uri`'s name for the Orchestra API (the HTTP backend).
ORCHESTRA_URI = "orchestra://"

__all__ = [
    "ORCHESTRA_URI",
    "LocalFileBackend",
    "NodeRecord",
    "StateBackend",
    "account_prefix",
    "backend_for_uri",
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
        """The whole document (within the backend's account prefix, if any); OrcError when it
        is unreadable or corrupt. A missing local file is an error; a missing S3 object is an
        empty document (the API always has one)."""
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


def account_prefix(settings: Settings) -> str | None:
    """`<account>.` when keys are scoped to an integration account (DESIGN §3: set
    `integration_account_id` with `local_run` off), else None. The S3 and HTTP backends show
    and write only the keys with this prefix."""
    if settings.integration_account_id and not settings.local_run:
        return f"{settings.integration_account_id}."
    return None


def open_backend(
    settings: Settings,
    on_wait: Callable[[str], None] | None = None,
    workdir: Path | None = None,
    dbt: Callable[[], MacroCaller] | None = None,
) -> StateBackend:
    """The backend the settings select. `on_wait` receives a message when a write has to wait
    for another writer or a request is retried (shown to the user so a pause is not mistaken
    for a hang). `workdir` (default: the current directory) is where the HTTP backend keeps
    `.orchestra/unsaved-state-*.json` when a save fails."""
    backend = settings.backend
    if backend is None:
        raise OrcError(
            "no state file configured: set state_file in [tool.orchestra_dbt] of "
            "pyproject.toml or the ORCHESTRA_STATE_FILE environment variable"
        )
    if backend == "http":
        return _http_backend(settings, on_wait, workdir)
    state_file = settings.state_file
    assert state_file is not None  # backend is only s3/warehouse/local with a state file
    if backend == "s3":
        return _s3_backend(state_file, settings, on_wait)
    if backend == "warehouse":
        return _warehouse_backend(state_file, settings, dbt, on_wait)
    if has_uri_scheme(state_file):
        raise OrcError(
            f"state_file {state_file} uses a scheme orc does not support: use a local path, "
            "s3://bucket/key or warehouse:..."
        )
    return LocalFileBackend(Path(state_file), on_wait=on_wait)


def backend_for_uri(
    uri: str,
    settings: Settings,
    on_wait: Callable[[str], None] | None = None,
    workdir: Path | None = None,
) -> StateBackend:
    """The backend a URI names, for `orc state migrate --from URI --to URI`.

    * `orchestra://` -- the Orchestra API, with ORCHESTRA_API_KEY and ORCHESTRA_ENV /
      ORCHESTRA_API_BASE_URL from `settings` (nothing may follow the `//`);
    * `s3://bucket/key` -- an S3 object (AWS credentials, region and AWS_ENDPOINT_URL from
      the usual AWS chain);
    * anything without a scheme -- a local file, relative to `workdir` (default: the current
      directory); `~` is expanded.

    The account prefix of `settings` (see `account_prefix`) applies to the S3 and HTTP
    backends as in `open_backend`. OrcError for any other form.
    """
    text = uri.strip()
    base = Path.cwd() if workdir is None else workdir
    if not text:
        raise OrcError(
            "an empty state URI: give a local path, s3://bucket/key, "
            "warehouse:<schema>.<table> or orchestra:// (the API)"
        )
    lowered = text.lower()
    if lowered.startswith("orchestra:"):
        if lowered != ORCHESTRA_URI:
            raise OrcError(
                f"{text} is not a valid Orchestra API URI: write exactly orchestra:// (the server "
                "comes from ORCHESTRA_ENV or ORCHESTRA_API_BASE_URL)"
            )
        if not settings.api_key:
            raise OrcError(
                "orchestra:// is the Orchestra API, which needs ORCHESTRA_API_KEY: set it in "
                "the environment"
            )
        return _http_backend(settings, on_wait, base)
    if lowered.startswith("s3://"):
        return _s3_backend(text, settings, on_wait)
    if lowered.startswith("warehouse:"):
        return _warehouse_backend(text, settings, None, on_wait)
    if has_uri_scheme(text):
        raise OrcError(
            f"state URI {text} uses a scheme orc cannot migrate: use a local path, "
            "s3://bucket/key, warehouse:<schema>.<table> or orchestra:// (set "
            "ORCHESTRA_API_BASE_URL to reach another Orchestra-compatible server)"
        )
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = base / path
    return LocalFileBackend(path, on_wait=on_wait)


def _http_backend(
    settings: Settings, on_wait: Callable[[str], None] | None, workdir: Path | None
) -> StateBackend:
    from orchestra_dbt_py.state.http import HttpBackend

    base = Path.cwd() if workdir is None else workdir
    return HttpBackend.from_settings(
        settings,
        unsaved_dir=base / ".orchestra",
        key_prefix=account_prefix(settings),
        on_wait=on_wait,
    )


def _s3_backend(
    uri: str, settings: Settings, on_wait: Callable[[str], None] | None
) -> StateBackend:
    from orchestra_dbt_py.state.s3 import S3Backend

    return S3Backend.from_uri(uri, key_prefix=account_prefix(settings), on_wait=on_wait)


def _warehouse_backend(
    uri: str,
    settings: Settings,
    dbt: Callable[[], MacroCaller] | None,
    on_wait: Callable[[str], None] | None,
) -> StateBackend:
    from orchestra_dbt_py.state.warehouse import WarehouseBackend, table_name

    return WarehouseBackend(
        table_name(uri),
        dbt or _project_session(),
        key_prefix=account_prefix(settings),
        on_wait=on_wait,
    )


def _project_session() -> Callable[[], MacroCaller]:
    """The dbt project of the current directory, parsed on first use."""
    opened: list[MacroCaller] = []

    def session() -> MacroCaller:
        if not opened:
            from orchestra_dbt_py.dbt_session import DbtSession, parse_command

            opened.append(DbtSession(parse_command(["parse"])))
        return opened[0]

    return session
