"""Durable atomic replacement of a local file: the one way orc replaces a file it writes (the
local backend's state document and claims board, the HTTP backend's unsaved-state file,
and orc's artifacts under dbt's target folder, through `artifacts.replace_file`), and the
caches under that folder (`write_cache`, `read_cache`)."""

from __future__ import annotations

import json
import os
import secrets
import stat
from contextlib import suppress
from pathlib import Path

__all__ = ["read_cache", "replace_durably", "write_cache"]


def replace_durably(target: Path, data: bytes) -> None:
    """Replace `target` with `data`: a temp file beside it, fsynced, renamed over it, and the
    rename fsynced. An existing file's mode is kept. Raises OSError; on any failure `target`
    is unchanged and no temp file remains."""
    directory = target.parent
    temp = directory / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None  # a new file: 0o666 less the umask, as for any file the user creates
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def write_cache(target: Path, document: object) -> bool:
    """Write a cache document as compact JSON, making its folder; whether it was written (a
    cache that cannot be written is skipped: the next run does the work again)."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_durably(target, json.dumps(document, separators=(",", ":")).encode())
    except OSError:
        return False
    return True


def read_cache(target: Path) -> object:
    """A cache document as `write_cache` wrote it, or None when it cannot be read as JSON (the
    caller validates its shape)."""
    try:
        return json.loads(target.read_bytes())
    except (OSError, ValueError):
        return None


def _fsync_directory(directory: Path) -> None:
    """Make the rename durable. Best effort: some file systems cannot fsync a directory."""
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
