"""Work that depends only on the project's files, done once per project version and kept in
`<target-path>/orc_project_cache.json`: the definition fingerprints (with their parts) and
the nodes a selection picks, and the fingerprints the package's hooks would record. An
unchanged run reads them back instead of computing them.

The project version is a digest of what dbt's partial parsing itself trusts to say the
parsed project is unchanged (every parsed file's checksum, each project's
`dbt_project.yml`, the vars, the profile, the env vars read while parsing), plus what orc
reads beyond the manifest: the seed files' sizes and modification times, the target and
the project settings given to the fingerprinter, and the versions of Python, dbt-core, the
adapter and orc's own fingerprinting code. The env vars the fingerprinter read are kept by
name with a digest of their value and compared on every read. Any difference, or a file
that is not exactly what orc writes, and the cache is ignored: the work is done again."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestra_dbt_py import fingerprint as fingerprint_package
from orchestra_dbt_py.files import read_cache, write_cache
from orchestra_dbt_py.fingerprint import Definitions
from orchestra_dbt_py.fingerprint.canonical import canonical_json, env_digest, plain, sha256_hex

__all__ = ["CACHE_FILE", "ProjectCache", "RecordingEnv", "project_version"]

CACHE_FILE = "orc_project_cache.json"
_FORMAT = 1
# Selections kept at most; the oldest is dropped first.
_MAX_SELECTIONS = 32
# Selection methods that read more than the project (other artifacts, the last run).
_EXTERNAL_METHODS = ("state:", "result:", "source_status", '"state"', '"result"')


class RecordingEnv(Mapping[str, str]):
    """The environment as the fingerprinter reads it, remembering what it read: each name
    asked for, and whether it went through every variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.read: dict[str, str | None] = {}
        self.listed = False

    def __getitem__(self, name: str) -> str:
        self.read[name] = env_digest(name, self._env.get(name))
        return self._env[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read[name] = env_digest(name, self._env.get(name))
        return self._env.get(name, default)

    def __iter__(self) -> Iterator[str]:
        self.listed = True
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def project_version(manifest: Any, config: Any, target: Any, settings: Any) -> str:
    """The digest of everything the cached work depends on, beside the env vars it read."""
    files = []
    for file_id, source_file in manifest.files.items():
        checksum = getattr(getattr(source_file, "checksum", None), "checksum", None)
        entry: list[Any] = [file_id, checksum]
        if str(getattr(source_file, "parse_file_type", "")) in ("seed", "ParseFileType.Seed"):
            entry.append(_stat(source_file))
        files.append(entry)
    files.sort(key=lambda item: str(item[0]))
    payload = {
        "format": _FORMAT,
        "python": sys.version,
        "dbt": _version("dbt-core"),
        "adapter": [
            manifest.metadata.adapter_type,
            _version(f"dbt-{manifest.metadata.adapter_type}"),
        ],
        "code": _code_digest(),
        "state_check": plain(manifest.state_check),
        "parse_env": plain(dict(manifest.env_vars)),
        "cli_vars": plain(getattr(config, "cli_vars", None)),
        "target": plain(target),
        "settings": plain(settings),
        "files": files,
    }
    return sha256_hex(canonical_json(payload))


class ProjectCache:
    """The cache of one project version, read once from `path`; `save` writes it back when
    anything was added."""

    def __init__(self, path: Path, version: str, env: Mapping[str, str]) -> None:
        self.path = path
        self.version = version
        self.env = env
        self._changed = False
        self._nodes: dict[str, dict[str, Any]] = {}
        self._env_read: dict[str, str | None] = {}
        self._env_listed: str | None = None
        self._selections: dict[str, dict[str, Any]] = {}
        self._hooks: dict[str, Any] = {}
        self._load()

    # -- fingerprints -----------------------------------------------------------------------

    def definitions(
        self,
        node_ids: Collection[str],
        compute: Callable[[Collection[str], RecordingEnv], Definitions],
    ) -> Definitions:
        """The definitions of `node_ids`: the kept ones, and `compute(missing, env)` for the
        rest (kept for the next run)."""
        missing = [uid for uid in node_ids if uid not in self._nodes]
        if missing:
            env = RecordingEnv(self.env)
            computed = compute(missing, env)
            for uid, fingerprint in computed.fingerprints.items():
                self._nodes[uid] = {
                    "fingerprint": fingerprint,
                    "parts": computed.parts[uid],
                    "computed_reads": uid in computed.computed_reads,
                }
            self._env_read.update(env.read)
            if env.listed:
                self._env_listed = _listed_digest(self.env)
            self._changed = True
        wanted = [uid for uid in node_ids if uid in self._nodes]
        return Definitions(
            {uid: self._nodes[uid]["fingerprint"] for uid in wanted},
            frozenset(uid for uid in wanted if self._nodes[uid]["computed_reads"]),
            {uid: dict(self._nodes[uid]["parts"]) for uid in wanted},
        )

    # -- the package hooks' fingerprints -------------------------------------------------------

    def hook_fingerprints(
        self,
        node_ids: Collection[str],
        compute: Callable[[Collection[str]], Mapping[str, str | None]],
    ) -> dict[str, str | None]:
        """The fingerprints the package's record_run hook would record now: the kept ones,
        and `compute(missing)` for the rest. The hooks' Jinja reads env vars that orc cannot
        follow, so they are kept for the environment as a whole: any change to it computes
        them again."""
        environment = _listed_digest(self.env)
        if self._hooks.get("env") != environment:
            self._hooks = {"env": environment, "values": {}}
        values: dict[str, str | None] = self._hooks["values"]
        missing = [uid for uid in node_ids if uid not in values]
        if missing:
            values.update(compute(missing))
            self._changed = True
        return {uid: values.get(uid) for uid in node_ids}

    # -- selections -------------------------------------------------------------------------

    @staticmethod
    def selection_key(selection: Mapping[str, Any], selectors: Any) -> str | None:
        """The key of a selection, or None when it reads more than the project (state:,
        result:, source_status:), which is never kept."""
        text = canonical_json(plain({"selection": selection, "selectors": selectors}))
        if any(method in text for method in _EXTERNAL_METHODS):
            return None
        return sha256_hex(text)

    def selection(self, key: str) -> tuple[list[str], list[str]] | None:
        """The kept unique ids and warnings of a selection, if any."""
        found = self._selections.get(key)
        return None if found is None else (list(found["ids"]), list(found["warnings"]))

    def keep_selection(self, key: str, ids: list[str], warnings: list[str]) -> None:
        self._selections.pop(key, None)
        self._selections[key] = {"ids": list(ids), "warnings": list(warnings)}
        while len(self._selections) > _MAX_SELECTIONS:
            del self._selections[next(iter(self._selections))]
        self._changed = True

    # -- the file ---------------------------------------------------------------------------

    def save(self) -> None:
        """Write the cache if anything was added; a cache that cannot be written is skipped
        (the next run does the work again)."""
        if not self._changed:
            return
        document = {
            "orc_project_cache": _FORMAT,
            "project_version": self.version,
            "env_read": self._env_read,
            "env_listed": self._env_listed,
            "nodes": self._nodes,
            "selections": self._selections,
            "hook_fingerprints": self._hooks,
        }
        if write_cache(self.path, document):
            self._changed = False

    def _load(self) -> None:
        document: Any = read_cache(self.path)
        if not _valid(document) or document["project_version"] != self.version:
            return
        env_read = document["env_read"]
        if any(env_digest(name, self.env.get(name)) != digest for name, digest in env_read.items()):
            return
        listed = document["env_listed"]
        if listed is not None and listed != _listed_digest(self.env):
            return
        self._nodes = document["nodes"]
        self._env_read = env_read
        self._env_listed = listed
        self._selections = document["selections"]
        self._hooks = document["hook_fingerprints"]


def _valid(document: Any) -> bool:
    """Whether a read document has exactly the shape `save` writes."""
    if not isinstance(document, dict) or document.get("orc_project_cache") != _FORMAT:
        return False
    if not isinstance(document.get("project_version"), str):
        return False
    env_read, listed = document.get("env_read"), document.get("env_listed")
    if not isinstance(env_read, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in env_read.items()
    ):
        return False
    if listed is not None and not isinstance(listed, str):
        return False
    nodes, selections = document.get("nodes"), document.get("selections")
    if not isinstance(nodes, dict) or not isinstance(selections, dict):
        return False
    for entry in nodes.values():
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("fingerprint"), str)
            and isinstance(entry.get("computed_reads"), bool)
            and isinstance(entry.get("parts"), dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in entry["parts"].items())
        ):
            return False
    hooks = document.get("hook_fingerprints")
    if not isinstance(hooks, dict) or (
        hooks
        and not (
            isinstance(hooks.get("env"), str)
            and isinstance(hooks.get("values"), dict)
            and all(v is None or isinstance(v, str) for v in hooks["values"].values())
        )
    ):
        return False
    for entry in selections.values():
        if not (
            isinstance(entry, dict)
            and _strings(entry.get("ids"))
            and _strings(entry.get("warnings"))
        ):
            return False
    return True


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _listed_digest(env: Mapping[str, str]) -> str:
    """A digest of every variable's name and value (what a fingerprinter that went through
    them all may have read)."""
    return sha256_hex(canonical_json({name: env_digest(name, env[name]) for name in env}))


def _stat(source_file: Any) -> list[int] | None:
    try:
        found = Path(source_file.path.absolute_path).stat()
    except (AttributeError, OSError):
        return None
    return [found.st_size, found.st_mtime_ns]


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


_CODE_DIGEST: str | None = None


def _code_digest() -> str:
    """A digest of orc's fingerprinting code, so that a changed algorithm (even without a new
    release, as in a development install) never reads fingerprints of the old one."""
    global _CODE_DIGEST
    if _CODE_DIGEST is None:
        digest = hashlib.sha256()
        package = Path(fingerprint_package.__file__).parent
        for path in sorted([*package.glob("*.py"), Path(__file__).with_name("graph.py")]):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        _CODE_DIGEST = digest.hexdigest()
    return _CODE_DIGEST
