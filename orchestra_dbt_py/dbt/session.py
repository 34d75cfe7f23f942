"""One parsed dbt project, invoked in-process: parse once, then select and build on that
manifest. Nothing here writes to the user's project files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbt.adapters.factory import get_adapter_by_type
from dbt.cli.main import dbtRunner, dbtRunnerResult
from dbt.contracts.graph.manifest import Manifest

from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.dbt.command import (
    RESOURCE_TYPES_BY_COMMAND,
    SELECTION_PARAMS,
    DbtCommand,
    accepted_params,
    command_flags,
)
from orchestra_dbt_py.dbt.project_cache import CACHE_FILE, ProjectCache, project_version
from orchestra_dbt_py.errors import OrcError, one_line
from orchestra_dbt_py.fingerprint import project_settings
from orchestra_dbt_py.fingerprint.canonical import plain

if TYPE_CHECKING:
    from orchestra_dbt_py.config import Settings

__all__ = ["RECORDER_ENV", "DbtSession", "EventCallback", "recorded_by_orc"]

EventCallback = Callable[[Any], None]
# dbt's console levels that show no information lines.
_ABOVE_INFO = ("warn", "error", "none")
# Tells the package's state hooks that orc records this run itself (macros/hooks/).
RECORDER_ENV = "ORCHESTRA_DBT_RECORDER"


class DbtSession:
    """A parsed project and its adapter, for one `orc` invocation."""

    def __init__(self, command: DbtCommand, manifest_written_later: bool = False) -> None:
        """Parse the project. With `manifest_written_later`, dbt's `manifest.json` is not
        written by the parse: the build dbt runs writes it, and `write_manifest` writes it
        when no build ran (one write instead of two in a run that builds)."""
        self.command = command
        # Parameters every invocation shares with the user's command (project, profile,
        # target, vars, threads, logging...), but not the user's selection.
        self._shared = {
            key: value for key, value in command.params.items() if key in accepted_params("parse")
        }
        self._warnings_only = warnings_only(command)
        self._manifest_pending = manifest_written_later and _writes_json(command)
        # What dbt warned about the selection (`selected_ids`), for orc to say.
        self.selection_warnings: list[str] = []
        self.manifest = self._parse()
        adapter_type = self.manifest.metadata.adapter_type
        if not adapter_type:
            raise OrcError("dbt parsed the project but reported no adapter; check profiles.yml")
        self.adapter_type: str = adapter_type
        self._cache: ProjectCache | None = None

    @property
    def adapter(self) -> Any:
        # Every dbt invocation registers a fresh adapter: always ask for the current one.
        return get_adapter_by_type(self.adapter_type)

    @property
    def config(self) -> Any:
        return self.adapter.config

    def key_scope(self, settings: Settings) -> KeyScope:
        """The state keys of this target's records (core.keys): its name and its default
        location, rendered as the adapter renders relations (the hooks' `_state_location`)."""
        credentials = self.config.credentials
        location = self.adapter.Relation.create(
            database=credentials.database, schema=credentials.schema
        ).render()
        target = self.config.target_name
        account = settings.integration_account_id
        return KeyScope.of(account, settings.local_run, target, location or None)

    @property
    def target_dir(self) -> Path:
        return Path(self.config.project_root) / self.config.target_path

    @property
    def threads(self) -> int:
        return max(1, int(self.config.threads or 1))

    @property
    def runnable(self) -> dict[str, Any]:
        """The nodes dbt can run, by unique id: manifest nodes and unit tests."""
        return {**self.manifest.nodes, **self.manifest.unit_tests}

    @property
    def target_dict(self) -> dict[str, Any]:
        return dict(self.config.to_target_dict())

    def project_cache(self, env: Mapping[str, str]) -> ProjectCache:
        """What this project version's earlier runs computed (project_cache.py), read once."""
        if self._cache is None or self._cache.env is not env:
            version = project_version(
                self.manifest, self.config, self.target_dict, project_settings(self.config)
            )
            self._cache = ProjectCache(self.target_dir / CACHE_FILE, version, env)
        return self._cache

    def _parse(self) -> Manifest:
        later = {"write_json": False} if self._manifest_pending else {}
        result = dbtRunner().invoke(["parse"], **{**self._shared, **self._warnings_only, **later})
        if not result.success or not isinstance(result.result, Manifest):
            # dbt has printed its error (even under --quiet), unless its logs are off.
            shown = self._shared.get("log_level") != "none" and result.exception is not None
            detail = one_line(result.exception) if result.exception else ""
            raise OrcError(
                "dbt could not parse the project"
                + (" (dbt's error is above)" if shown or not detail else f": {detail}")
                + "; nothing was run",
                exit_code=2,
            )
        return result.result

    def _invoke(
        self, args: list[str], callbacks: Sequence[EventCallback] = (), **params: Any
    ) -> dbtRunnerResult:
        runner = dbtRunner(manifest=self.manifest, callbacks=list(callbacks))
        return runner.invoke(args, **params)

    def selected_ids(self) -> list[str]:
        """The nodes the user's command would run, as dbt itself selects them."""
        subcommand = self.command.subcommand or "build"
        selection = {k: v for k, v in self.command.params.items() if k in SELECTION_PARAMS}
        if "resource_types" not in selection:
            selection["resource_types"] = RESOURCE_TYPES_BY_COMMAND[subcommand]
        cache = self.project_cache(os.environ)
        # Older dbt releases resolve `path:` selectors from the working directory.
        selectors = plain(getattr(self.config, "manifest_selectors", None))
        key = cache.selection_key({**selection, "cwd": os.getcwd()}, selectors)
        kept = None if key is None else cache.selection(key)
        if kept is not None:
            ids, self.selection_warnings = kept
            return ids
        args = ["ls", "--output", "json", "--output-keys", "unique_id"]
        # `dbt ls` prints what it lists whatever the log level but none: its warnings about
        # the selection are kept and said by orc, in dbt's words (its own "No nodes
        # selected!" is not one `dbt build` gives).
        warnings: list[str] = []

        def keep(event: Any) -> None:
            if event.info.level == "warn" and event.info.name != "NoNodesSelected":
                warnings.append(event.info.msg)

        # write_json off: dbt ls would write the graph files a build writes anyway.
        params = {**self._shared, **selection, "log_level": "none", "write_json": False}
        result = self._invoke(args, [keep], **params)
        self.selection_warnings = warnings
        if not result.success or not isinstance(result.result, list):
            raise OrcError(f"dbt could not resolve the selection: {result.exception}")
        listed = [json.loads(line)["unique_id"] for line in result.result]
        runnable = self.runnable
        ids = [uid for uid in listed if uid in runnable]
        if key is not None:
            cache.keep_selection(key, ids, warnings)
        return ids

    def run(
        self,
        node_ids: Collection[str],
        callbacks: Sequence[EventCallback] = (),
        without_hooks: Collection[str] = (),
    ) -> dbtRunnerResult:
        """Run the user's command on exactly `node_ids`, leaving every project file untouched;
        the project hooks of the kinds in `without_hooks` ("on-run-start", "on-run-end") do
        not run in it (orc runs them itself, see `hooks`)."""
        tag = f"orc_run_{datetime.now(UTC):%Y%m%d%H%M%S%f}"
        runnable = self.runnable
        tagged = [runnable[uid] for uid in node_ids]
        for node in tagged:
            node.tags.append(tag)
        selection: dict[str, Any] = {
            "select": (f"tag:{tag}",),
            "exclude": (),
            "selector": None,
            "indirect_selection": "empty",
        }
        if self.command.subcommand == "build":
            selection["resource_types"] = ()
            selection["exclude_resource_types"] = ()
        try:
            with recorded_by_orc(), self.hooks_hidden(without_hooks):
                result = self._invoke(list(self.command.args), callbacks, **selection)
            if result.result is not None:  # dbt ran to its end, where it writes the manifest
                self._manifest_pending = False
            return result
        finally:
            for node in tagged:
                if tag in node.tags:
                    node.tags.remove(tag)

    def write_manifest(self) -> None:
        """Write dbt's `manifest.json` (and its semantic manifest) as the parse would have,
        unless a build dbt ran has written it or the user turned dbt's JSON off."""
        if not self._manifest_pending:
            return
        from dbt.parser.manifest import write_manifest

        self._manifest_pending = False
        write_manifest(self.manifest, self.config.project_target_path)

    def project_hooks(self, kind: str) -> list[Any]:
        """The on-run-start or on-run-end hooks of the project and its packages (dbt finds
        them by that tag), in no particular order."""
        return [
            node
            for node in self.manifest.nodes.values()
            if node.resource_type == "operation" and kind in node.tags
        ]

    @contextmanager
    def hooks_hidden(self, kinds: Collection[str]) -> Iterator[None]:
        """dbt runs no project hook of these kinds inside the block: their tag is taken off
        the hook nodes in memory, and put back after."""
        hidden = [(node, kind) for kind in kinds for node in self.project_hooks(kind)]
        for node, kind in hidden:
            node.tags.remove(kind)
        try:
            yield
        finally:
            for node, kind in hidden:
                node.tags.append(kind)


def _writes_json(command: DbtCommand) -> bool:
    """Whether dbt writes its JSON artifacts for this command line (`--no-write-json`,
    DBT_WRITE_JSON, the project's `flags:`)."""
    try:
        return bool(command_flags(command).WRITE_JSON)
    except Exception:  # dbt rejects the line when it runs it, in its own words
        return True


def warnings_only(command: DbtCommand) -> dict[str, Any]:
    """dbt's console for orc's own parse: only what dbt would warn about and its errors (a
    patch of no model, a deprecation), shown once, as the user's flags show them; nothing
    more under --quiet or a higher --log-level."""
    try:
        flags = command_flags(command)
    except Exception:  # dbt rejects the line when it runs it, in its own words
        return {"quiet": True}
    level = flags.LOG_LEVEL if flags.LOG_LEVEL in _ABOVE_INFO else "warn"
    return {"debug": False, "log_level": level}


@contextmanager
def recorded_by_orc() -> Iterator[None]:
    """Inside the block, the package's state hooks leave the recording to orc."""
    previous = os.environ.get(RECORDER_ENV)
    os.environ[RECORDER_ENV] = "orc"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RECORDER_ENV, None)
        else:
            os.environ[RECORDER_ENV] = previous
