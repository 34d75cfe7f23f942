"""State backends: where the state document lives. Every backend stores the same document
(`orchestra_dbt_py.core.document`) and differs only in I/O and in how it keeps concurrent
writers apart:

* `local` -- a JSON file; exclusive lock, atomic replacement, a journal (`local`);
* `s3` -- `s3://bucket/key`; conditional writes (the `s3` extra, boto3) (`s3`);
* `gcs` -- `gs://bucket/key`; conditional writes (the `gcs` extra) (`gcs`);
* `azure` -- `abfss://container@account.dfs.core.windows.net/path` or `az://container/path`;
  conditional writes (the `azure` extra) (`azure`);
* `http` -- the Orchestra API, selected by ORCHESTRA_API_KEY or `orchestra://` (`http`);
* `warehouse` -- `warehouse:<schema>.<table>`, a table in the target warehouse written
  through the dbt adapter, also written by the package's dbt hooks (`warehouse`).

The location is parsed once (`location.parse_location`, or `Settings.location`);
`open_backend` opens it, seen through the account scope of the settings. The object store
backends share their read-merge-conditional-write loop (`objectstore`). Every module but
`local` is imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.location import StateLocation, parse_location
from orchestra_dbt_py.state.backend import ScopedBackend, StateBackend
from orchestra_dbt_py.state.local import LocalFileBackend

if TYPE_CHECKING:
    from orchestra_dbt_py.state.table import MacroCaller

__all__ = [
    "LocalFileBackend",
    "StateBackend",
    "StateLocation",
    "backend_for_uri",
    "configured_location",
    "open_backend",
]


def configured_location(settings: Settings) -> StateLocation:
    """The location the settings select; OrcError when none is configured."""
    location = settings.location
    if location is None:
        raise OrcError(
            "no state file configured: set state_file in [tool.orchestra_dbt] of "
            "pyproject.toml or the ORCHESTRA_STATE_FILE environment variable"
        )
    return location


def open_backend(
    settings: Settings,
    *,
    location: StateLocation | None = None,
    on_wait: Callable[[str], None] | None = None,
    workdir: Path | None = None,
    dbt: Callable[[], MacroCaller] | None = None,
) -> StateBackend:
    """The backend at `location` (default: the one the settings configure), limited to the
    settings' account scope when there is one.

    `on_wait` receives a one-line notice when a write has to wait for another writer or a
    request is retried (so that a pause is not mistaken for a hang), and when the local
    backend creates the state file or sets aside a torn journal line. `workdir` (default: the
    current directory) is where the HTTP backend keeps `.orchestra/unsaved-state-*.json`
    when a save fails. `dbt` gives the warehouse backend the session of the running command
    (default: the dbt project of the current directory, parsed on first use).
    """
    if location is None:
        location = configured_location(settings)
    backend = _open(location, settings, on_wait, workdir, dbt)
    scope = KeyScope.of(settings.integration_account_id, settings.local_run)
    return backend if scope.account is None else ScopedBackend(backend, scope)


def backend_for_uri(
    uri: str,
    settings: Settings,
    on_wait: Callable[[str], None] | None = None,
    workdir: Path | None = None,
) -> StateBackend:
    """The backend a URI names, for `orc state migrate --from URI --to URI`: a local path
    (relative to `workdir`, default the current directory), `s3://bucket/key`,
    `gs://bucket/key`, `abfss://container@account.dfs.core.windows.net/path`,
    `az://container/path`, `warehouse:<schema>.<table>` or `orchestra://`."""
    base = Path.cwd() if workdir is None else workdir
    location = parse_location(uri, base)
    return open_backend(settings, location=location, on_wait=on_wait, workdir=base)


def _open(
    location: StateLocation,
    settings: Settings,
    on_wait: Callable[[str], None] | None,
    workdir: Path | None,
    dbt: Callable[[], MacroCaller] | None,
) -> StateBackend:
    if location.kind == "local":
        return LocalFileBackend(location.path, on_wait=on_wait)
    if location.kind == "s3":
        from orchestra_dbt_py.state.s3 import S3Backend

        bucket, key = location.bucket_and_key
        return S3Backend(bucket, key, on_wait=on_wait)
    if location.kind == "gcs":
        from orchestra_dbt_py.state.gcs import GcsBackend

        bucket, key = location.bucket_and_key
        return GcsBackend(bucket, key, on_wait=on_wait)
    if location.kind == "azure":
        from orchestra_dbt_py.state.azure import AzureBlobBackend

        return AzureBlobBackend(location.azure_blob, on_wait=on_wait)
    if location.kind == "warehouse":
        from orchestra_dbt_py.state.table import WarehouseBackend

        return WarehouseBackend(location.target, dbt or _project_session(), on_wait=on_wait)
    from orchestra_dbt_py.state.http import HttpBackend

    if not settings.api_key:
        raise OrcError(
            "orchestra:// is the Orchestra API, which needs ORCHESTRA_API_KEY: set it in "
            "the environment"
        )
    base = Path.cwd() if workdir is None else workdir
    return HttpBackend.from_settings(settings, unsaved_dir=base / ".orchestra", on_wait=on_wait)


def _project_session() -> Callable[[], MacroCaller]:
    """The dbt project of the current directory, parsed on first use."""
    opened: list[MacroCaller] = []

    def session() -> MacroCaller:
        if not opened:
            from orchestra_dbt_py.dbt.command import parse_command
            from orchestra_dbt_py.dbt.queries import Warehouse
            from orchestra_dbt_py.dbt.session import DbtSession

            opened.append(Warehouse(DbtSession(parse_command(["parse"]))))
        return opened[0]

    return session
