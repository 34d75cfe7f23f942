"""The claims board the state backends keep beside the document: the local file backend's
`<state file>.claims` on real files (changed under the state lock, replaced atomically),
overlapping runs in real processes, which backends can coordinate, and what a board that
cannot be trusted says. A board's round trip, an unchanged board and a corrupt one on every
backend are the backend contract's (tests/integration/test_backend_contract.py)."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestra_dbt_py.core.claims import Claim, dump_board, parse_board, take
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.state.backend import ScopedBackend, StateBackend, stored_board
from orchestra_dbt_py.state.http import HttpBackend
from orchestra_dbt_py.state.local import LocalFileBackend
from orchestra_dbt_py.state.objectstore import ObjectStoreBackend
from tests.support.claim_contention import check_contention, contend, run_contenders

T0 = datetime(2026, 11, 22, 7, 31, 17, tzinfo=UTC)
DEADLINE = 60.0
# fork: the child runs these module-level functions without re-importing the test module.
CTX = multiprocessing.get_context("fork")


def claim(run_id: str) -> Claim:
    return Claim(run_id, "ci-host", 42, "ana@ci-host", T0, T0 + timedelta(minutes=5))


Taking = Callable[[dict[str, Claim]], tuple[dict[str, Claim], list[str]]]


def taking(keys: list[str], run_id: str) -> Taking:
    """A change that takes `keys` for the run `run_id` and returns those it got."""

    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], list[str]]:
        taken = take(board, keys, claim(run_id), T0)
        return taken.board, taken.held

    return change


def board_of(backend: StateBackend) -> dict[str, Claim]:
    board: dict[str, Claim] = backend.change_claims(lambda board: (board, board))
    return board


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "orc_state.json"
    path.parent.mkdir()
    return path


@pytest.fixture
def backend(state_path: Path) -> LocalFileBackend:
    created = LocalFileBackend(state_path)
    assert created.init() is True
    return created


def claims_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".claims")


# --- the local file backend ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b'{"claims": {', "not JSON"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b'{"claims": {"a\\nb": 1}}', 'claim "a\\nb": expected the fields'),
        (b'{"state": {}}', "not a claims document"),
    ],
)
def test_a_corrupt_board_is_a_one_line_error_and_left_alone(
    backend: LocalFileBackend, state_path: Path, content: bytes, detail: str
) -> None:
    claims_path(state_path).write_bytes(content)
    called: list[bool] = []

    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], None]:
        called.append(True)
        return {}, None

    with pytest.raises(OrcError) as caught:
        backend.change_claims(change)
    message = str(caught.value)
    assert message.startswith(f"the claims board {claims_path(state_path)} is corrupt ({detail}")
    assert message.endswith("delete it when no orc run is going on (orc starts a new one)")
    assert "\n" not in message
    assert called == []
    assert claims_path(state_path).read_bytes() == content


def test_a_symlinked_state_file_keeps_its_board_beside_the_file_it_points_to(
    tmp_path: Path,
) -> None:
    real = tmp_path / "shared" / "state.json"
    real.parent.mkdir()
    link = tmp_path / "project" / "state.json"
    link.parent.mkdir()
    link.symlink_to(real)
    linked = LocalFileBackend(link)
    linked.init()
    linked.change_claims(taking(["a"], "r1"))
    assert parse_board(claims_path(real).read_text()) == {"a": claim("r1")}
    assert sorted(p.name for p in link.parent.iterdir()) == ["state.json"]
    assert link.is_symlink()
    # A run that names the real file sees the same board.
    assert board_of(LocalFileBackend(real)) == {"a": claim("r1")}


def test_the_board_is_changed_under_the_state_lock(
    backend: LocalFileBackend, state_path: Path
) -> None:
    def change(board: dict[str, Claim]) -> tuple[dict[str, Claim], bool]:
        fd = os.open(state_path.with_name(state_path.name + ".lock"), os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return board, True
        finally:
            os.close(fd)
        return board, False

    assert backend.change_claims(change) is True


def _take_under_file_size_limit(path: str, limit: int, conn: Connection) -> None:
    """Child: make every write past `limit` bytes fail (EFBIG), then try to take many keys."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    keys = [f"model.p.m{index:04d}" for index in range(200)]
    try:
        LocalFileBackend(Path(path)).change_claims(taking(keys, "r2"))
    except OrcError as error:
        conn.send(("OrcError", str(error)))
    except BaseException as error:
        conn.send(("other", repr(error)))
    else:
        conn.send(("ok", ""))
    conn.close()


def test_a_failed_write_names_the_board_and_keeps_the_old_one(
    backend: LocalFileBackend, state_path: Path
) -> None:
    backend.change_claims(taking(["a"], "r1"))
    original = claims_path(state_path).read_bytes()
    files = sorted(p.name for p in state_path.parent.iterdir())
    receiver, sender = CTX.Pipe(duplex=False)
    child = CTX.Process(target=_take_under_file_size_limit, args=(str(state_path), 4096, sender))
    child.start()
    sender.close()
    assert receiver.poll(DEADLINE)
    kind, message = receiver.recv()
    child.join(DEADLINE)
    assert kind == "OrcError", message
    assert message.startswith(f"cannot write the claims board {claims_path(state_path)} (")
    assert claims_path(state_path).read_bytes() == original
    assert sorted(p.name for p in state_path.parent.iterdir()) == files  # no temp file left


def _contender(path: str, run: int, clock: Synchronized[int], folder: Path, start: Barrier) -> None:
    contend(LocalFileBackend(Path(path)), run, clock, folder, start)


def test_overlapping_runs_in_processes_never_hold_a_key_together(
    backend: LocalFileBackend, state_path: Path, tmp_path: Path
) -> None:
    runs = 4
    run_contenders(CTX, _contender, [str(state_path)], tmp_path / "runs", runs)
    check_contention(tmp_path / "runs", runs, board_of(backend))


# --- which backends coordinate -------------------------------------------------------------


def test_local_and_object_stores_coordinate_and_http_says_why_not(state_path: Path) -> None:
    local = LocalFileBackend(state_path)
    assert local.no_claims_reason is None
    assert ObjectStoreBackend.no_claims_reason is None
    scoped = ScopedBackend(local, KeyScope.of("acct1", False))
    assert scoped.no_claims_reason is None
    assert scoped.change_claims(taking(["a"], "r1")) == ["a"]
    assert board_of(local) == {"a": claim("r1")}
    assert StateBackend.no_claims_reason is not None
    assert HttpBackend.no_claims_reason == ("the Orchestra API offers no conditional write")


# --- boards that cannot be trusted -----------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=40),
        st.text(max_size=40).map(str.encode),
        st.just(dump_board({"a\n b": claim("r1")})).map(lambda text: text[:-3].encode()),
    )
)
def test_any_stored_bytes_are_a_board_or_a_one_line_error_naming_it(data: bytes) -> None:
    try:
        stored_board(data, "the claims board s3://b/orc/state.json.claims")
    except OrcError as error:
        assert "\n" not in str(error)
        assert str(error).startswith("the claims board s3://b/orc/state.json.claims is corrupt")


def test_no_stored_board_is_an_empty_one() -> None:
    assert stored_board(None, "anywhere") == {}


class RefusingS3:
    """A boto3 S3 client with no objects that refuses every write."""

    def get_object(self, **kwargs: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")

    def put_object(self, **kwargs: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied"}}, "PutObject")


def test_a_store_failure_on_the_board_names_the_board() -> None:
    pytest.importorskip("botocore")
    from orchestra_dbt_py.state.s3 import S3Backend

    store = S3Backend("team-bucket", "orc/state.json", client=RefusingS3())
    with pytest.raises(OrcError) as caught:
        store.change_claims(taking(["a"], "r1"))
    assert str(caught.value).startswith(
        "access to s3://team-bucket/orc/state.json.claims was denied (AccessDenied)"
    )
    with pytest.raises(OrcError) as caught:
        store.update({})
    assert str(caught.value).startswith("access to s3://team-bucket/orc/state.json was denied")
