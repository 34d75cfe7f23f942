"""Data versions, freshness and relation listings of a DuckDB database file, kept in
`<target-path>/orc_duckdb_versions.json` while the file is unchanged.

DuckDB keeps no change time for a table, so the package measures a table by reading all of
it (a content digest). But every committed change to a table of a database file reaches the
file or its write-ahead log (`<file>.wal`) before the commit returns, and no two processes
write one file at once. So while neither of the two has changed (the same device, inode,
size, modification and status-change times: `stat`), no table in the file has, and a version
measured since then is still the table's version. An unchanged run then reads no table,
and does not even open the database.

Only what the file alone decides is kept: the relations each schema of its main catalog
holds, the versions of the base tables of that catalog, and the freshness of the sources
among them whose `loaded_at_field` is a column name (no `loaded_at_query`, no `filter`,
which could follow the clock), as the package's own macros and dbt's `collect_freshness`
measure them. Views (their rows can follow files, other databases or the clock),
file-backed sources, attached databases, in-memory and remote databases, and a project that
overrides any of those macros are measured every time. A file changed less than two seconds
before it was looked at could change again within the resolution of a coarse file-system
clock without its times moving, so such a look is not trusted by the times alone. Anything
else that does not match (another file, a changed file, a damaged cache) and everything is
measured again.

Such a look (a build's, which orc then measures for the next run) is kept all the same when
the file's content mark can be read: a digest of its headers (every checkpoint writes a
database header with a higher iteration) and of its whole write-ahead log (every commit
since that checkpoint is appended to it). What was kept under such a look is read back only
while the mark is the same."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeGuard
from urllib.parse import urlparse

from orchestra_dbt_py.files import read_cache, write_cache

__all__ = ["KEPT_VERSIONS_FILE", "DuckdbFile", "KeptVersions", "checkpoint", "duckdb_file"]

KEPT_VERSIONS_FILE = "orc_duckdb_versions.json"
_FORMAT = 2
# How long before it is looked at a file must have stopped changing (the coarsest file
# times are FAT's two seconds).
SETTLED_NS = 2_000_000_000
# The main header and the two database headers at the start of a DuckDB file, and the
# largest write-ahead log read for a content mark.
_HEADERS_BYTES = 3 * 4096
_MARKED_LOG_BYTES = 64 * 1024 * 1024
# The fields of a base table's version in the package's duckdb__data_versions.
_TABLE_FIELDS = frozenset({"columns", "rows", "digest"})
# The macros a project could override to measure DuckDB differently, and the packages whose
# own they are.
_MEASURING_MACROS = frozenset(
    f"{prefix}{name}"
    for name in ("data_versions", "source_freshness", "sources_freshness", "collect_freshness")
    for prefix in ("", "default__", "duckdb__")
)
_OWN_PACKAGES = frozenset({"orchestra_dbt", "dbt", "dbt_duckdb"})
# A loaded_at_field that names a column (a clock expression would not be).
_COLUMN = re.compile(r'[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+"')


@dataclass(frozen=True)
class DuckdbFile:
    """A DuckDB database file, the name of its main catalog (lower case), and a digest of
    the macros that measure it (what is kept by other macros is measured again)."""

    path: Path
    catalog: str
    measured_by: str


def duckdb_file(
    adapter_type: str, credentials: Any, macros: Mapping[str, Any], lent: str | None
) -> DuckdbFile | None:
    """The local database file of a DuckDB target whose tables the package's own macros
    measure, or None (another adapter, memory, a remote or lake database, an override).
    `macros` are the manifest's; `lent` is a digest of the macros orc lends a project
    without the package (None when it has it)."""
    if adapter_type != "duckdb" or getattr(credentials, "remote", None):
        return None
    path = getattr(credentials, "path", None)
    catalog_of = getattr(credentials, "path_derived_database_name", None)
    if not isinstance(path, str) or path == ":memory:" or catalog_of is None:
        return None
    if urlparse(path).scheme or "?" in path or getattr(credentials, "is_ducklake", False):
        return None
    measuring = hashlib.sha256((lent or "").encode())
    for uid, macro in sorted(macros.items()):
        if macro.name in _MEASURING_MACROS and macro.package_name not in _OWN_PACKAGES:
            return None
        if macro.name in _MEASURING_MACROS or macro.package_name == "orchestra_dbt":
            measuring.update(f"{uid}\0{macro.macro_sql}\0".encode())
    given = Path(os.path.abspath(path))
    if not given.is_file():
        return None
    return DuckdbFile(given, str(catalog_of(path)).lower(), measuring.hexdigest())


def checkpoint(adapter: Any) -> None:
    """Write the log of the adapter's DuckDB file into the file now, as DuckDB does when the
    process closes it, so that a look taken after a build still matches the file then. It
    changes no table. A failure (another transaction open) only means that the next run
    measures again."""
    try:
        with adapter.connection_named("orc_checkpoint"):
            adapter.execute("checkpoint")
    except Exception:  # nothing kept is trusted unless the file matches it
        pass
    finally:
        adapter.cleanup_connections()


def _logs(path: Path) -> list[str]:
    """The write-ahead log's paths: beside the link and beside the file it points to
    (wherever the DuckDB release puts it)."""
    return list(dict.fromkeys([f"{path}.wal", f"{os.path.realpath(path)}.wal"]))


def _signature(path: Path) -> list[list[int] | None]:
    """The stat of the file (through a symbolic link) and of its write-ahead log; None where
    absent."""
    found: list[list[int] | None] = []
    for candidate in (str(path), *_logs(path)):
        try:
            s = os.stat(candidate)
        except OSError:
            found.append(None)
            continue
        found.append([s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns])
    return found


def _content_mark(path: Path) -> str | None:
    """A digest of what a DuckDB file has committed: its headers and its write-ahead log
    (see the module's docstring); None when it is not a DuckDB file, cannot be read or its
    log is too large to read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            headers = file.read(_HEADERS_BYTES)
        if len(headers) < _HEADERS_BYTES or headers[8:12] != b"DUCK":
            return None
        digest.update(headers)
        for log in _logs(path):
            try:
                size = os.stat(log).st_size
            except FileNotFoundError:
                digest.update(b"\0no log")
                continue
            if size > _MARKED_LOG_BYTES:
                return None
            with open(log, "rb") as file:
                digest.update(b"\0log\0" + file.read())
    except OSError:
        return None
    return digest.hexdigest()


class KeptVersions:
    """What is kept of one database file (versions, freshness, listings), read once; the
    file is looked at when this is made, which must be before what it keeps is measured."""

    def __init__(self, cache_path: Path, database: DuckdbFile) -> None:
        self.cache_path = cache_path
        self.database = database
        looked_at = time.time_ns()
        self._signature = _signature(database.path)
        times = [t for s in self._signature if s for t in s[3:]]
        self._settled = self._signature[0] is not None and looked_at - max(times) >= SETTLED_NS
        # A file that had not settled is told by its content instead (None: not kept).
        present = self._signature[0] is not None
        self._mark = None if self._settled or not present else _content_mark(database.path)
        self._tables: dict[str, dict[str, str]] = {}
        # rendered source -> [loaded_at_field, its latest value (ISO 8601) or None]
        self._freshness: dict[str, list[str | None]] = {}
        # ["database", "schema"] as JSON -> the lower-cased rendered names listed in it
        self._listings: dict[str, list[str]] = {}
        self._load()

    @property
    def _keepable(self) -> bool:
        return self._settled or self._mark is not None

    def unchanged(self) -> bool:
        """Whether the file is now as it was when this looked at it (and had settled then,
        or its content mark is the same)."""
        return (
            self._keepable
            and _signature(self.database.path) == self._signature
            and (self._settled or _content_mark(self.database.path) == self._mark)
        )

    def _in_catalog(self, database: str | None) -> bool:
        return str(database or "").lower() == self.database.catalog

    def _in_file(self, relation: Any) -> bool:
        return not getattr(relation, "external", None) and self._in_catalog(relation.database)

    # -- data versions ----------------------------------------------------------------------

    def split(self, relations: Iterable[Any]) -> tuple[dict[str, dict[str, str]], list[Any]]:
        """The kept versions among `relations` (by rendered name), and the relations left to
        measure."""
        known: dict[str, dict[str, str]] = {}
        left = []
        for relation in relations:
            version = self._tables.get(relation.render())
            if version is not None and self._in_file(relation):
                known[relation.render()] = version
            else:
                left.append(relation)
        return known, left

    def keep(self, measured: Iterable[Any], found: Mapping[Any, Any]) -> None:
        """Keep the base-table versions just measured of these relations."""
        added = 0
        for relation in measured:
            version = found.get(relation.render())
            if self._in_file(relation) and _table_version(version):
                self._tables[relation.render()] = dict(version)
                added += 1
        self._save(added > 0)

    # -- freshness --------------------------------------------------------------------------

    def _freshness_key(self, arguments: Mapping[str, Any]) -> str | None:
        """The rendered name of a source whose freshness the file alone could decide (if it
        is a base table: see known_freshness), or None."""
        relation, field = arguments.get("relation"), arguments.get("loaded_at_field")
        if relation is None or not isinstance(field, str) or not _COLUMN.fullmatch(field.strip()):
            return None
        if any(arguments.get(k) for k in ("loaded_at_query", "filter", "external_location")):
            return None
        rendered = relation.render()
        return rendered if self._in_file(relation) else None

    def known_freshness(
        self, arguments: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, datetime | None]:
        """The kept freshness of the sources (by id) whose source_freshness `arguments`
        match what was measured."""
        known: dict[str, datetime | None] = {}
        for uid, given in arguments.items():
            key = self._freshness_key(given)
            # Only a base table's: a view's rows (and so its freshness) can change while the
            # file does not. Freshness is measured before the data versions, which tell.
            kept = self._freshness.get(key) if key in self._tables else None
            if kept is not None and kept[0] == given["loaded_at_field"]:
                known[uid] = datetime.fromisoformat(kept[1]) if kept[1] else None
        return known

    def keep_freshness(
        self, arguments: Mapping[str, Mapping[str, Any]], found: Mapping[str, datetime | None]
    ) -> None:
        """Keep the freshness just measured of these sources (by id)."""
        added = 0
        for uid, latest in found.items():
            key = self._freshness_key(arguments[uid]) if uid in arguments else None
            if key:
                field = arguments[uid]["loaded_at_field"]
                self._freshness[key] = [field, latest.isoformat() if latest else None]
                added += 1
        self._save(added > 0)

    # -- relations listed ---------------------------------------------------------------------

    def listing(self, schema: tuple[str | None, str]) -> list[str] | None:
        """The kept names of the relations in a schema of the file's main catalog."""
        return self._listings.get(_schema_key(schema)) if self._in_catalog(schema[0]) else None

    def keep_listings(self, listings: Mapping[tuple[str | None, str], list[str]]) -> None:
        """Keep the names just listed in these schemas."""
        added = {_schema_key(k): list(v) for k, v in listings.items() if self._in_catalog(k[0])}
        self._listings.update(added)
        self._save(bool(added))

    # -- the file ---------------------------------------------------------------------------

    def _load(self) -> None:
        if not self._keepable:
            return
        document: Any = read_cache(self.cache_path)
        if not (
            isinstance(document, dict)
            and document.get("orc_duckdb_versions") == _FORMAT
            and document.get("file") == str(self.database.path)
            and document.get("measured_by") == self.database.measured_by
            and document.get("signature") == self._signature
        ):
            return
        # Kept under a look at a file that had not settled: only while its content is the same.
        mark = document.get("mark")
        if mark is not None and mark != (self._mark or _content_mark(self.database.path)):
            return
        tables, freshness = document.get("tables"), document.get("freshness")
        listings = document.get("listings")
        if not (
            isinstance(tables, dict)
            and all(_table_version(v) for v in tables.values())
            and isinstance(freshness, dict)
            and all(_kept_freshness(v) for v in freshness.values())
            and isinstance(listings, dict)
            and all(_strings(v) for v in listings.values())
        ):
            return
        self._tables, self._freshness, self._listings = tables, freshness, listings

    def _save(self, changed: bool) -> None:
        """Write what is kept, if anything was added since the look (settled, or marked)."""
        if not (changed and self._keepable):
            return
        document = {
            "orc_duckdb_versions": _FORMAT,
            "file": str(self.database.path),
            "measured_by": self.database.measured_by,
            "signature": self._signature,
            "mark": self._mark,
            "tables": self._tables,
            "freshness": self._freshness,
            "listings": self._listings,
        }
        write_cache(self.cache_path, document)


def _table_version(version: Any) -> TypeGuard[Mapping[str, str]]:
    """Whether this is a base table's version as duckdb__data_versions gives it."""
    return (
        isinstance(version, Mapping)
        and set(version) == _TABLE_FIELDS
        and all(isinstance(v, str) for v in version.values())
    )


def _schema_key(schema: tuple[str | None, str]) -> str:
    return json.dumps(list(schema))


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _kept_freshness(value: Any) -> bool:
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], str)):
        return False
    if value[1] is None:
        return True
    try:
        return isinstance(value[1], str) and datetime.fromisoformat(value[1]).tzinfo is not None
    except ValueError:
        return False
