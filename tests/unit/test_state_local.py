"""The local file backend on real files: what only it does (a missing folder, the journal,
atomic replacement without temp files, the file mode, symbolic links, the lock and its
messages, concurrent writers leaving no stray files) and open_backend's selection. What
every backend does (round trip, missing document, init, corrupt document, unchanged
document, concurrent writers, migrate, claims) is the backend contract's
(tests/integration/test_backend_contract.py), which runs on a local file too."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import resource
import signal
import stat
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier, Event
from pathlib import Path

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import parse_state
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state import open_backend
from orchestra_dbt_py.state.local import LocalFileBackend

T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)
# A safety net only: steps are ordered with events, never with sleeps.
DEADLINE = 60.0

# fork: the child runs these module-level functions without re-importing the test module.
CTX = multiprocessing.get_context("fork")


def record(seconds: int = 0, checksum: str | None = None) -> NodeRecord:
    return NodeRecord(last_updated=T0 + timedelta(seconds=seconds), checksum=checksum)


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def listing(folder: Path) -> set[str]:
    return {entry.name for entry in folder.iterdir()}


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "orc_state.json"


@pytest.fixture
def backend(state_path: Path) -> LocalFileBackend:
    created = LocalFileBackend(state_path)
    assert created.init() is True
    return created


# --- init, exists, load ------------------------------------------------------------------


def test_a_missing_folder_is_empty_state_and_reading_creates_nothing(state_path: Path) -> None:
    backend = LocalFileBackend(state_path)
    assert backend.load() == {}
    assert backend.read_claims() == {}
    assert not backend.exists()
    assert not state_path.parent.exists()


def test_load_reads_a_dbt_orchestra_file(state_path: Path) -> None:
    state_path.parent.mkdir(parents=True)
    state_path.write_text(
        '{"state": {"model.p.m": {"last_updated": "2026-11-22T07:31:17Z", "checksum": "c", '
        '"sources": {"source.p.raw.t": "2026-11-22T07:00:00Z"}}}}',
        encoding="utf-8",
    )
    loaded = LocalFileBackend(state_path).load()
    assert loaded["model.p.m"].checksum == "c"
    assert loaded["model.p.m"].last_updated == T0


# --- update --------------------------------------------------------------------------------


def test_the_first_write_creates_the_missing_folders_and_says_so_once(tmp_path: Path) -> None:
    path = tmp_path / ".orchestra" / "runs" / "state.json"
    notices: list[str] = []
    backend = LocalFileBackend(path, on_wait=notices.append)
    backend.journal({"m": record()})
    backend.update({"n": record()})
    assert LocalFileBackend(path).load() == {"m": record(), "n": record()}
    assert notices == [
        f"created the state file {path} and its folder {tmp_path / '.orchestra'} "
        "(they did not exist)"
    ]


def test_a_folder_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(OrcError, match=r"cannot create the folder .*: create it yourself"):
        LocalFileBackend(tmp_path / "file" / "state.json").update({"m": record()})


def test_the_first_update_creates_a_missing_file_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "orc_state.json"
    notices: list[str] = []
    merged = LocalFileBackend(path, on_wait=notices.append).update({"m": record()})
    assert LocalFileBackend(path).load() == merged == {"m": record()}
    assert notices == [f"created the state file {path} (it did not exist)"]
    assert listing(tmp_path) == {path.name, lock_path(path).name}


def test_the_first_journal_line_creates_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "orc_state.json"
    LocalFileBackend(path).journal({"m": record()}, ())
    assert parse_state(path.read_text(encoding="utf-8"), "x") == {}
    assert LocalFileBackend(path).load() == {"m": record()}


@pytest.mark.parametrize(
    "content",
    [b"{not json", b'{"state": {"m": {"last_updated": "later"}}}', b"\xff\xfe\x00garbage"],
    ids=["json", "timestamp", "not-utf8"],
)
def test_update_never_overwrites_a_corrupt_file(
    backend: LocalFileBackend, state_path: Path, content: bytes
) -> None:
    state_path.write_bytes(content)
    with pytest.raises(OrcError) as caught:
        backend.update({"m": record()})
    assert str(state_path) in str(caught.value)
    assert state_path.read_bytes() == content
    assert listing(state_path.parent) == {state_path.name, lock_path(state_path).name}


def test_update_replaces_the_file_atomically_and_leaves_no_temp_files(
    backend: LocalFileBackend, state_path: Path
) -> None:
    before = os.stat(state_path).st_ino
    backend.update({"m0": record(0)})
    # os.replace gives the path the temporary file's inode, which differed from the old
    # file's while both existed; rewriting in place would keep the old one. (Checked after
    # one update: later replacements may reuse the freed inode number.)
    assert os.stat(state_path).st_ino != before
    for index in range(1, 5):
        backend.update({f"m{index}": record(index)})
    assert listing(state_path.parent) == {state_path.name, lock_path(state_path).name}
    assert set(backend.load()) == {f"m{index}" for index in range(5)}


def test_update_keeps_the_file_mode(backend: LocalFileBackend, state_path: Path) -> None:
    os.chmod(state_path, 0o640)
    backend.update({"m": record()})
    assert stat.S_IMODE(os.stat(state_path).st_mode) == 0o640


def test_update_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "shared" / "state.json"
    assert LocalFileBackend(real).init() is True
    link = tmp_path / "project_state.json"
    link.symlink_to(real)
    LocalFileBackend(link).update({"m": record()})
    assert link.is_symlink()
    assert set(LocalFileBackend(real).load()) == {"m"}


def _update_under_file_size_limit(path: str, limit: int, conn: Connection) -> None:
    """Child: make every write past `limit` bytes fail (EFBIG), then try an update."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    big = {f"model.p.m{index:04d}": record(index, "c" * 64) for index in range(200)}
    try:
        LocalFileBackend(Path(path)).update(big)
    except OrcError as error:
        conn.send(("OrcError", str(error)))
    except BaseException as error:
        conn.send(("other", repr(error)))
    else:
        conn.send(("ok", ""))
    conn.close()


def test_failed_write_leaves_old_state_and_no_temp_file(
    backend: LocalFileBackend, state_path: Path
) -> None:
    backend.update({"kept": record()})
    original = state_path.read_bytes()
    receiver, sender = CTX.Pipe(duplex=False)
    child = CTX.Process(target=_update_under_file_size_limit, args=(str(state_path), 4096, sender))
    child.start()
    sender.close()
    assert receiver.poll(DEADLINE)
    kind, message = receiver.recv()
    child.join(DEADLINE)
    assert child.exitcode == 0
    assert kind == "OrcError", message
    assert "cannot write state file" in message
    assert str(state_path) in message
    assert state_path.read_bytes() == original
    assert listing(state_path.parent) == {state_path.name, lock_path(state_path).name}


# --- concurrency ---------------------------------------------------------------------------

WORKERS = 8
UPDATES_PER_WORKER = 20


def _writer(path: str, worker: int, start: Barrier) -> None:
    backend = LocalFileBackend(Path(path))
    start.wait(DEADLINE)
    for index in range(UPDATES_PER_WORKER):
        seconds = worker * UPDATES_PER_WORKER + index
        backend.update(
            {
                f"model.p.w{worker}_{index}": record(seconds, f"w{worker}"),
                "model.p.shared": record(seconds, f"w{worker}_{index}"),
            }
        )


def test_concurrent_updates_from_processes_lose_nothing(
    backend: LocalFileBackend, state_path: Path
) -> None:
    start = CTX.Barrier(WORKERS)
    children = [
        CTX.Process(target=_writer, args=(str(state_path), worker, start))
        for worker in range(WORKERS)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(DEADLINE)
    assert [child.exitcode for child in children] == [0] * WORKERS

    items = backend.load()
    expected = {
        f"model.p.w{worker}_{index}"
        for worker in range(WORKERS)
        for index in range(UPDATES_PER_WORKER)
    }
    assert set(items) == expected | {"model.p.shared"}
    for worker in range(WORKERS):
        for index in range(UPDATES_PER_WORKER):
            assert items[f"model.p.w{worker}_{index}"].checksum == f"w{worker}"
    # The shared key holds the newest record any worker wrote.
    last = WORKERS * UPDATES_PER_WORKER - 1
    assert items["model.p.shared"].last_updated == T0 + timedelta(seconds=last)
    assert items["model.p.shared"].checksum == f"w{WORKERS - 1}_{UPDATES_PER_WORKER - 1}"
    assert listing(state_path.parent) == {state_path.name, lock_path(state_path).name}


def _hold_lock(path: str, held: Event, release: Event) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)
    held.set()
    release.wait(DEADLINE)
    os.close(fd)


def test_on_wait_is_called_when_another_process_holds_the_lock(
    backend: LocalFileBackend, state_path: Path
) -> None:
    held = CTX.Event()
    release = CTX.Event()
    child = CTX.Process(target=_hold_lock, args=(str(lock_path(state_path)), held, release))
    child.start()
    try:
        assert held.wait(DEADLINE)
        messages: list[str] = []

        def on_wait(message: str) -> None:
            messages.append(message)
            release.set()  # only now may the other process let go

        waiting = LocalFileBackend(state_path, on_wait=on_wait)
        merged = waiting.update({"m": record()})
        # Had on_wait not been called, the holder would only let go at its deadline and
        # `messages` would be empty here.
        assert len(messages) == 1
        assert "waiting for the state lock" in messages[0]
        assert str(state_path) in messages[0]
        assert set(merged) == {"m"}
        assert set(backend.load()) == {"m"}
    finally:
        release.set()
        child.join(DEADLINE)
    assert child.exitcode == 0


def test_on_wait_is_not_called_when_the_lock_is_free(state_path: Path) -> None:
    messages: list[str] = []
    quiet = LocalFileBackend(state_path, on_wait=messages.append)
    quiet.init()
    quiet.update({"m": record()})
    assert messages == []


# --- open_backend ------------------------------------------------------------------------


def test_open_backend_local(state_path: Path) -> None:
    opened = open_backend(Settings(state_file=str(state_path)))
    assert isinstance(opened, LocalFileBackend)
    assert opened.path == state_path
    assert opened.description == str(state_path)


def test_open_backend_passes_on_wait(state_path: Path) -> None:
    messages: list[str] = []
    opened = open_backend(Settings(state_file=str(state_path)), on_wait=messages.append)
    assert isinstance(opened, LocalFileBackend)
    assert opened._on_wait == messages.append


def test_open_backend_without_state_file() -> None:
    with pytest.raises(OrcError) as caught:
        open_backend(Settings())
    message = str(caught.value)
    assert "state_file" in message
    assert "[tool.orchestra_dbt]" in message
    assert "ORCHESTRA_STATE_FILE" in message


@pytest.mark.parametrize(
    ("state_file", "table"),
    [
        ("warehouse:analytics.orc_state", "analytics.orc_state"),
        ("WAREHOUSE:prod.analytics.orc_state", "prod.analytics.orc_state"),
    ],
)
def test_open_backend_warehouse_names_the_table(state_file: str, table: str) -> None:
    from orchestra_dbt_py.state.table import WarehouseBackend

    backend = open_backend(Settings(state_file=state_file))  # nothing is parsed until used
    assert isinstance(backend, WarehouseBackend)
    assert backend.table == table
    assert backend.description == f"warehouse:{table}"


@pytest.mark.parametrize(
    "state_file",
    ["warehouse:", "warehouse:orc_state", "warehouse:a.b.c.d", "warehouse:a..b", "warehouse:a b.c"],
)
def test_open_backend_warehouse_rejects_a_malformed_table(state_file: str) -> None:
    with pytest.raises(OrcError) as caught:
        open_backend(Settings(state_file=state_file))
    message = str(caught.value)
    assert "warehouse:<schema>.<table>" in message
    assert "\n" not in message


def test_open_backend_rejects_an_unknown_scheme() -> None:
    with pytest.raises(OrcError, match="scheme"):
        open_backend(Settings(state_file="https://example.com/state.json"))


def test_threads_of_one_run_wait_for_each_other_without_a_message(tmp_path: Path) -> None:
    """A run's checkpoint and its claim renewals share the lock: neither is 'another run'."""
    import threading

    from orchestra_dbt_py.state.local import LocalFileBackend

    said: list[str] = []
    backend = LocalFileBackend(tmp_path / "state.json", on_wait=said.append)
    backend.init()
    inside, leave = threading.Event(), threading.Event()

    def hold() -> tuple[dict[str, object], None]:
        inside.set()
        leave.wait(10)
        return {}, None

    holder = threading.Thread(target=lambda: backend.change_claims(lambda board: hold()))
    holder.start()
    assert inside.wait(10)
    saver = threading.Thread(target=lambda: backend.update({}))
    saver.start()
    saver.join(0.3)
    assert saver.is_alive()  # it waits for the holder...
    leave.set()
    holder.join(10)
    saver.join(10)
    assert not saver.is_alive() and said == []  # ...and says nothing
    other = LocalFileBackend(tmp_path / "state.json", on_wait=said.append)
    inside.clear()
    leave.clear()
    holder = threading.Thread(target=lambda: backend.change_claims(lambda board: hold()))
    holder.start()
    assert inside.wait(10)
    waiter = threading.Thread(target=lambda: other.update({}))
    waiter.start()
    waiter.join(0.3)
    leave.set()
    holder.join(10)
    waiter.join(10)
    assert said == [
        f"waiting for the state lock on {tmp_path / 'state.json'} (another orc run is saving)"
    ]
