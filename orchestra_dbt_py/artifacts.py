"""Writing orc's own artifacts under dbt's target directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestra_dbt_py.errors import OrcError


def replace_file(path: Path, text: str) -> Path:
    """Write `text` to `path` atomically (a temp file beside it, then a rename), so a
    reader never sees half a file; readable like any file dbt writes there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def reported_write(path: Path, fix: str) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into a one-line OrcError that names the
    path, the reason and `fix`."""
    try:
        yield
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OrcError(f"cannot write {path} ({reason}): {fix}") from None
