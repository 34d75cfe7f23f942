"""The local JSON file backend: an exclusive lock for writers, atomic replacement of the file.

Readers (`load`) need no lock: the file is only ever replaced whole (`os.replace`), so a
reader sees either the old document or the new one. Writers (`update`, `init`) take an
exclusive `fcntl.flock` on a sibling `<name>.lock` file, re-read the document under the lock,
merge, and replace the file. The lock file is left in place on purpose: deleting it would let
two writers lock two different files. When the state file is a symbolic link, the file it
points to is read, locked and replaced, and the link is kept.

The claims board of overlapping runs is a sibling `<name>.claims` file (beside the file a
link points to), changed under the same lock and replaced the same way.

POSIX only (fcntl).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from orchestra_dbt_py.core.claims import Claim, dump_board
from orchestra_dbt_py.core.document import (
    decode_document,
    dump_journal_line,
    dump_state,
    parse_state,
    replay_journal,
)
from orchestra_dbt_py.core.records import NodeRecord, merge_states
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.files import replace_durably
from orchestra_dbt_py.state.backend import ClaimsChange, StateBackend, T, stored_board

__all__ = ["LocalFileBackend"]


class LocalFileBackend(StateBackend):
    """State kept in one JSON file on a local (or locally mounted) file system."""

    # A save is a local rename: checkpoint often.
    checkpoint_seconds = 0.25
    journaled = True
    no_claims_reason = None

    def __init__(self, path: Path, on_wait: Callable[[str], None] | None = None) -> None:
        self.path = Path(path)
        self.description = str(self.path)
        self._on_wait = on_wait
        # The document as this process last read or wrote it, with the file's identity then:
        # a checkpoint re-parses the file only when another writer has replaced it since.
        self._known: tuple[tuple[int, int, int], dict[str, NodeRecord]] | None = None
        self._texts: dict[str, tuple[NodeRecord, str]] = {}
        self._thread_lock = threading.RLock()
        # The folder this backend created for the state file, named when it says so.
        self._made_folder: Path | None = None

    # --- the StateBackend interface ----------------------------------------------------------

    def exists(self) -> bool:
        """True when something is at the state path (a document, or anything load rejects)."""
        return self._target().exists()

    def load(self) -> dict[str, NodeRecord]:
        """Read and validate the document (with its journal replayed); a missing file (or
        folder) is empty state, which the first write creates; a corrupt one an OrcError."""
        target = self._target()
        return self._replayed(target, self._read(target) or {})

    def journal(self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()) -> None:
        """Append records (or removals) to the journal beside the state file.

        A journal line costs one small append, no fsync and no rewrite of the document, so
        it can follow every node: the records outlive a killed process, and the next load or
        update replays them into the document.
        """
        target = self._target()
        line = dump_journal_line(items, removals)
        with self._locked(target, announce=False):
            self._create_if_missing(target)
            self._set_aside_torn_line(target)
            try:
                with open(_journal(target), "a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError as error:
                raise OrcError(
                    f"cannot append to the state journal {_journal(target)} "
                    f"({_reason(error)}): free disk space or fix permissions"
                ) from None

    def update(
        self, items: Mapping[str, NodeRecord], removals: Collection[str] = ()
    ) -> dict[str, NodeRecord]:
        """Merge `items` into the document and drop `removals`, as one locked step.

        The document is re-read under the lock, so concurrent writers never lose each other's
        items. A missing file is created, its folder too; a corrupt one is never replaced.
        Returns the merged document as written.
        """
        target = self._target()
        with self._locked(target):
            stored = self._read_unless_known(target)
            self._set_aside_torn_line(target)
            current = self._replayed(target, stored or {})
            merged = merge_states(current, items, removals, now=datetime.now(UTC))
            if stored is None or merged != stored:
                self._write(target, dump_state(merged, self._texts))
                self._known = (_identity(target), merged)
                if stored is None:
                    self._say_created()
            # The document now holds everything the journal held.
            _journal(target).unlink(missing_ok=True)
        return dict(merged)

    def init(self) -> bool:
        """Create an empty document (and its folder) unless something is already there.

        Returns True when the file was created, False when one already existed; an existing
        file is never read or modified.
        """
        target = self._target()
        with self._locked(target):
            if os.path.lexists(target):
                return False
            self._write(target, dump_state({}))
        return True

    def read_claims(self) -> dict[str, Claim]:
        if not self._target().parent.is_dir():
            return {}  # no run has written here: nothing to read, and nothing to create
        return super().read_claims()

    def change_claims(self, change: ClaimsChange[T]) -> T:
        """Read the claims file, apply `change`, and replace the file when the board changed,
        all under the state lock. A missing file is an empty board; a corrupt one an
        OrcError (never replaced)."""
        target = self._target()
        path = _claims(target)
        with self._locked(target, announce=False):
            try:
                data: bytes | None = path.read_bytes()
            except FileNotFoundError:
                data = None
            except OSError as error:
                raise OrcError(
                    f"cannot read the claims board {path} ({_reason(error)}): fix its permissions"
                ) from None
            board = stored_board(data, f"the claims board {path}")
            changed, result = change(dict(board))
            if changed != board:
                try:
                    replace_durably(path, dump_board(changed).encode("utf-8"))
                except OSError as error:
                    raise OrcError(
                        f"cannot write the claims board {path} ({_reason(error)}): free disk "
                        "space or fix permissions"
                    ) from None
        return result

    # --- internals ---------------------------------------------------------------------------

    def _target(self) -> Path:
        """The file to operate on: the state path with symbolic links resolved."""
        return Path(os.path.realpath(self.path))

    def _missing_folder(self, folder: Path) -> OrcError:
        return OrcError(
            f"the folder {folder} of the state file {self.path} does not exist: create it, "
            "or fix state_file / ORCHESTRA_STATE_FILE"
        )

    def _create_if_missing(self, target: Path) -> None:
        """The first write creates the document, and says so. Called under the lock."""
        if not os.path.lexists(target):
            self._write(target, dump_state({}))
            self._say_created()

    def _say_created(self) -> None:
        if self._on_wait is None:
            return
        if self._made_folder is None:
            self._on_wait(f"created the state file {self.path} (it did not exist)")
        else:
            self._on_wait(
                f"created the state file {self.path} and its folder {self._made_folder} "
                "(they did not exist)"
            )

    def _replayed(self, target: Path, records: dict[str, NodeRecord]) -> dict[str, NodeRecord]:
        journal = _journal(target)
        try:
            data = journal.read_bytes()
        except FileNotFoundError:
            return records
        except OSError as error:
            raise OrcError(
                f"cannot read the state journal {journal} ({_reason(error)}): fix or move it"
            ) from None
        complete = data[: data.rfind(b"\n") + 1]  # a torn last line is not replayed
        try:
            text = complete.decode("utf-8")
        except UnicodeDecodeError:
            raise OrcError(f"state journal {journal} is not UTF-8 text: fix or move it") from None
        return replay_journal(records, text, str(journal), datetime.now(UTC))

    def _set_aside_torn_line(self, target: Path) -> None:
        """Move what a writer killed mid-line left at the end of the journal to a file of its
        own (named `<journal>.torn-line-<time>`), so that no new line is glued onto it.
        Called under the lock; the complete lines stay."""
        journal = _journal(target)
        try:
            data = journal.read_bytes()
        except FileNotFoundError:
            return
        except OSError as error:
            raise OrcError(
                f"cannot read the state journal {journal} ({_reason(error)}): fix or move it"
            ) from None
        end = data.rfind(b"\n") + 1
        if end == len(data):
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        aside = journal.with_name(f"{journal.name}.torn-line-{stamp}")
        try:
            aside.write_bytes(data[end:])
            os.truncate(journal, end)
        except OSError as error:
            raise OrcError(
                f"cannot set aside the incomplete last line of the state journal {journal} "
                f"({_reason(error)}): free disk space or fix permissions"
            ) from None
        if self._on_wait is not None:
            self._on_wait(
                f"set aside the incomplete last line of the state journal (left by a killed "
                f"run) in {aside}"
            )

    def _read_unless_known(self, target: Path) -> dict[str, NodeRecord] | None:
        """Like `_read`, but without re-parsing a file this backend wrote or read last."""
        try:
            identity = _identity(target)
        except FileNotFoundError:
            return None
        if self._known is not None and self._known[0] == identity:
            return self._known[1]
        records = self._read(target)
        if records is not None:
            self._known = (identity, records)
        return records

    def _read(self, target: Path) -> dict[str, NodeRecord] | None:
        """The parsed document, or None when there is no file."""
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise OrcError(
                f"cannot read state file {self.path} ({_reason(error)}): "
                "fix its permissions or the path"
            ) from None
        return parse_state(decode_document(data, str(self.path)), str(self.path))

    @contextmanager
    def _locked(self, target: Path, announce: bool = True) -> Iterator[None]:
        # Threads of this run (checkpoints, claim renewals) queue here, silently: a file lock
        # is per open file, so without this they would wait for each other on the file lock
        # and be announced as another run.
        with self._thread_lock:
            self._make_folder(target.parent)
            with self._file_locked(target, announce):
                yield

    def _make_folder(self, folder: Path) -> None:
        """Every write creates the state's folder when it is missing (reads never do)."""
        if folder.is_dir():
            return
        missing = next((p for p in (*reversed(folder.parents), folder) if not p.exists()), folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise OrcError(
                f"cannot create the folder {folder} for the state file {self.path} "
                f"({_reason(error)}): create it yourself or fix state_file / ORCHESTRA_STATE_FILE"
            ) from None
        self._made_folder = missing

    @contextmanager
    def _file_locked(self, target: Path, announce: bool) -> Iterator[None]:
        lock_path = target.with_name(target.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:
            raise self._missing_folder(lock_path.parent) from None
        except OSError as error:
            raise OrcError(
                f"cannot open the state lock {lock_path} ({_reason(error)}): "
                f"make {lock_path.parent} writable"
            ) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if self._on_wait is not None and announce:
                    self._on_wait(
                        f"waiting for the state lock on {self.path} (another orc run is saving)"
                    )
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as error:
                raise OrcError(
                    f"cannot lock {lock_path} ({_reason(error)}): keep the state file on a "
                    "file system that supports file locks"
                ) from None
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _write(self, target: Path, text: str) -> None:
        """Atomically replace `target` with `text`; on any failure no temp file remains."""
        try:
            replace_durably(target, text.encode("utf-8"))
        except OSError as error:
            raise OrcError(
                f"cannot write state file {self.path} ({_reason(error)}): free disk space or "
                "fix permissions; the previous state is unchanged"
            ) from None


def _journal(target: Path) -> Path:
    return target.with_name(target.name + ".journal")


def _claims(target: Path) -> Path:
    return target.with_name(target.name + ".claims")


def _identity(path: Path) -> tuple[int, int, int]:
    """What changes whenever the file is replaced or rewritten."""
    stat_result = os.stat(path)
    return (stat_result.st_ino, stat_result.st_mtime_ns, stat_result.st_size)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__
