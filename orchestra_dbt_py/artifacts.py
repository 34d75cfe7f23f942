"""Writing orc's own artifacts under dbt's target directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.files import replace_durably


def replace_file(path: Path, text: str) -> Path:
    """Write `text` to `path` (its folder made when missing) durably and atomically
    (`files.replace_durably`): a reader never sees half a file, and a crash never leaves
    an empty one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_durably(path, text.encode("utf-8"))
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
