"""The orchestra_dbt dbt package, lent to a project that has not installed it.

orc ships the package's own files as package data (`orchestra_dbt_py/dbt_package/`, links to
the repository's `dbt_project.yml` and `macros/` that setuptools follows when it builds a
wheel), so its measuring SQL has one source. When the parsed project lacks the package, its
macros are parsed with dbt's own macro parser, as dbt parses an installed package's, and
added to the session's manifest, and the package to the project's dependencies, only while
orc measures: `adapter.execute_macro(..., project="orchestra_dbt")` and
`adapter.dispatch(..., "orchestra_dbt")` then resolve exactly as with the package installed
(the project's own dispatch order and overrides first). Nothing dbt writes (manifest.json,
the partial parse file) ever holds them, because dbt never runs while they are lent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from dbt.contracts.files import ParseFileType
from dbt.contracts.graph.manifest import Manifest
from dbt.contracts.graph.nodes import Macro
from dbt.parser.macros import MacroParser
from dbt.parser.read_files import load_source_file
from dbt.parser.search import FileBlock

from orchestra_dbt_py.errors import OrcError, one_line

__all__ = ["PACKAGE", "LentPackage", "installed", "shipped_macros_digest"]

PACKAGE = "orchestra_dbt"
# The package's project and macros as orc ships them.
_SHIPPED = files("orchestra_dbt_py") / "dbt_package"
# A macro every release of the package has: its presence means the project installed it.
_MARKER = f"macro.{PACKAGE}.source_freshness"


def installed(manifest: Manifest) -> bool:
    """Whether the project itself has the orchestra_dbt dbt package installed."""
    return _MARKER in manifest.macros


def shipped_macros_digest() -> str:
    """A digest of the text of every macro file shipped with orc (what a project without
    the package is lent)."""
    digest = hashlib.sha256()
    with as_file(_SHIPPED / "macros") as root:
        for path in sorted(Path(root).rglob("*.sql")):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class LentPackage:
    """The shipped package's macros, parsed on first use, for one parsed project."""

    def __init__(self) -> None:
        self._project: Any = None
        self._macros: dict[str, Macro] = {}

    @contextmanager
    def lent(self, manifest: Manifest, config: Any) -> Iterator[None]:
        """The package's macros in `manifest`, and the package among `config`'s
        dependencies, for the duration; both are as they were afterwards."""
        if not self._macros:
            self._load(config)
        added = [uid for uid in self._macros if uid not in manifest.macros]
        dependencies = config.dependencies
        config.dependencies = {
            **(dependencies if dependencies is not None else config.load_dependencies()),
            PACKAGE: self._project,
        }
        manifest.macros.update((uid, self._macros[uid]) for uid in added)
        _forget_macro_lookups(manifest)
        try:
            yield
        finally:
            for uid in added:
                manifest.macros.pop(uid, None)
            _forget_macro_lookups(manifest)
            config.dependencies = dependencies

    def _load(self, config: Any) -> None:
        with as_file(_SHIPPED) as root:
            try:
                # A package's project, loaded as dbt loads every installed package's.
                project = config.new_project(str(root))
                scratch = Manifest()
                parser = MacroParser(project, scratch)
                for path in parser.get_paths():
                    source = load_source_file(path, ParseFileType.Macro, project.project_name, {})
                    if source is not None:
                        parser.parse_file(FileBlock(source))
            except Exception as error:
                raise OrcError(
                    f"the orchestra_dbt macros shipped with orc ({root}) could not be read: "
                    f"{one_line(error)}; reinstall orc, or install the dbt package with "
                    "`orc dbt deps`"
                ) from error
        if not scratch.macros:
            raise OrcError(
                f"orc's copy of the orchestra_dbt package ({root}) has no macros: reinstall orc"
            )
        self._project, self._macros = project, dict(scratch.macros)


def _forget_macro_lookups(manifest: Manifest) -> None:
    """dbt rebuilds its macro lookups (by name, by package) from `manifest.macros` when
    they are unset."""
    manifest._macros_by_name = None
    manifest._macros_by_package = None
