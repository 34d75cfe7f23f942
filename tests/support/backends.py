"""Every state backend, opened fresh for the backend contract
(tests/integration/test_backend_contract.py), with the few raw operations the contract needs
to look at, or spoil, what the backend stored without going through it.

Each kind runs on a real server or file: a local file, S3 on the moto server, GCS on
fake-gcs-server, Azure Blob on Azurite (started by scripts/with-moto.sh, with-gcs.sh and
with-azurite.sh), the HTTP API on the real local server of `state_servers`, and the
warehouse table through a parsed dbt session of the package's integration_tests project on
DuckDB and on PostgreSQL (scripts/with-postgres.sh).

What a backend can and cannot do is declared once, in `CAPABILITIES`: the contract picks
the backends of each case from there, and checks the declarations against the backends.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.core.document import dump_state
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.state import backend_for_uri
from orchestra_dbt_py.state.backend import StateBackend
from tests.support.cloud_stores import (
    T0,
    azure_service,
    gcs_client,
    new_container,
    new_gcs_bucket,
    record,
    requires_azure,
    requires_gcs,
)
from tests.support.hooked import HookedProject, stage
from tests.support.state_servers import (
    Misbehaviour,
    StateApiServer,
    new_bucket,
    requires_s3,
    s3_client,
)
from tests.support.tutorial import postgres_available

API_KEY = "sk-orc-contract-5e4d3c2b1a"
KEY = "orc/state.json"
BOARD = f"{KEY}.claims"
WRITERS = 8
ROUNDS = 4
# A document no backend can read, and a claims board nobody can read.
CORRUPT = b'{"state": {"m": '
CORRUPT_BOARD = '{"claims": {'


@dataclass(frozen=True)
class Capabilities:
    """What a backend does, as the contract checks it."""

    # `init` makes a document where there is none (False: the store always has one).
    creates_document: bool
    # An update that changes nothing writes nothing.
    skips_unchanged_writes: bool
    # A write is refused when another writer changed the document since it was read
    # (`ObjectStoreBackend._put`), and the round is redone.
    conditional_writes: bool
    # Overlapping runs can coordinate through a claims board (`no_claims_reason` is None).
    claims: bool
    # A save that fails keeps its records in a file for `orc state push`.
    keeps_unsaved: bool
    # Concurrent writers are other processes ("processes"), or threads of the one process
    # that writes a DuckDB file and shares its dbt session ("threads").
    writers: str


OBJECT_STORE = Capabilities(
    creates_document=True,
    skips_unchanged_writes=True,
    conditional_writes=True,
    claims=True,
    keeps_unsaved=False,
    writers="processes",
)
WAREHOUSE = Capabilities(
    creates_document=True,
    skips_unchanged_writes=False,  # every update appends its rows
    conditional_writes=False,  # one transaction per write, no refusal
    claims=True,
    keeps_unsaved=False,
    writers="threads",
)
CAPABILITIES: dict[str, Capabilities] = {
    "local": Capabilities(
        creates_document=True,
        skips_unchanged_writes=True,
        conditional_writes=False,  # an exclusive lock keeps writers apart
        claims=True,
        keeps_unsaved=False,
        writers="processes",
    ),
    "s3": OBJECT_STORE,
    "gcs": OBJECT_STORE,
    "azure": OBJECT_STORE,
    "http": Capabilities(
        creates_document=False,  # the API always has a document
        skips_unchanged_writes=False,  # every save is a PATCH; the server merges
        conditional_writes=False,
        claims=False,
        keeps_unsaved=True,
        writers="processes",
    ),
    "duckdb": WAREHOUSE,
    "postgres": WAREHOUSE,
}
_POSTGRES = [
    pytest.mark.postgres,
    pytest.mark.skipif(not postgres_available(), reason="needs PGHOST/PGPORT (make test)"),
]
MARKS: dict[str, list[Any]] = {
    "local": [],
    "s3": requires_s3,
    "gcs": requires_gcs,
    "azure": requires_azure,
    "http": [],
    "duckdb": [],
    "postgres": _POSTGRES,
}


def kinds(where: Callable[[Capabilities], bool] = lambda _: True) -> list[Any]:
    """The backend kinds whose capabilities satisfy `where`, as pytest params."""
    return [
        pytest.param(kind, marks=MARKS[kind], id=kind)
        for kind, capabilities in CAPABILITIES.items()
        if where(capabilities)
    ]


# --- one backend under test ----------------------------------------------------------------


class Place:
    """A fresh, empty place of one backend kind: open backends on it, and read or spoil what
    is stored there directly."""

    kind: str = ""
    # What messages about the document and about its claims board name.
    where: str = ""
    board_where: str = ""
    # What the error about a corrupt document says besides `where`.
    corrupt_says: str = "not valid JSON"

    @property
    def capabilities(self) -> Capabilities:
        return CAPABILITIES[self.kind]

    def open(self, on_wait: Callable[[str], None] | None = None) -> StateBackend:
        """A new backend on this place."""
        raise NotImplementedError

    def stored(self) -> Any:
        """The document as stored (None: there is none)."""
        raise NotImplementedError

    def version(self) -> Any:
        """What changes whenever the document is written."""
        raise NotImplementedError

    def corrupt(self) -> None:
        """Store a document orc cannot read."""
        raise NotImplementedError

    def corruption(self) -> Any:
        """What holds the corrupt part of the document now."""
        return self.stored()

    def stored_keys(self) -> set[str]:
        """The keys of the stored document, read without orc."""
        stored = self.stored()
        assert isinstance(stored, bytes)
        return set(json.loads(stored)["state"])

    def empty(self) -> Any:
        """What `stored` is after `init` made the document."""
        return dump_state({}).encode("utf-8")

    def board_text(self) -> str | None:
        """The text of the stored claims board (None: there is none)."""
        board = self.board()
        return None if board is None else bytes(board[0]).decode("utf-8")

    def board(self) -> Any:
        """The claims board as stored, with its version where the store has one (None:
        there is none)."""
        raise NotImplementedError

    def put_board(self, text: str) -> None:
        raise NotImplementedError

    def fail_saves(self) -> None:
        """Make every save fail from now on (only where `keeps_unsaved`)."""
        raise NotImplementedError(f"{self.kind} keeps no unsaved records")

    def unsaved(self) -> list[Path]:
        """The files of records a failed save kept."""
        return []

    # Concurrent writers in other processes open the backend by URI.
    uri: str = ""
    settings: dict[str, Any] = {}  # noqa: RUF012 - never changed


class LocalPlace(Place):
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.path = root / "state" / "orc_state.json"
        self.path.parent.mkdir(parents=True)
        self.where = str(self.path)
        self.board_where = f"the claims board {self.path}.claims"
        self.uri = str(self.path)

    def open(self, on_wait: Callable[[str], None] | None = None) -> StateBackend:
        from orchestra_dbt_py.state.local import LocalFileBackend

        return LocalFileBackend(self.path, on_wait=on_wait)

    def stored(self) -> bytes | None:
        return self.path.read_bytes() if self.path.exists() else None

    def version(self) -> tuple[int, int]:
        found = os.stat(self.path)
        return found.st_ino, found.st_mtime_ns

    def corrupt(self) -> None:
        self.path.write_bytes(CORRUPT)

    def board(self) -> tuple[bytes, int, int] | None:
        path = Path(f"{self.path}.claims")
        if not path.exists():
            return None
        found = os.stat(path)
        return path.read_bytes(), found.st_ino, found.st_mtime_ns

    def put_board(self, text: str) -> None:
        Path(f"{self.path}.claims").write_text(text, encoding="utf-8")


class ObjectPlace(Place):
    """S3, GCS or Azure Blob: the document at KEY of a new bucket or container."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        if kind == "s3":
            self.bucket = new_bucket("orc-contract")
            self.uri = f"s3://{self.bucket}/{KEY}"
        elif kind == "gcs":
            self.bucket = new_gcs_bucket("orc-contract")
            self.uri = f"gs://{self.bucket}/{KEY}"
        else:
            self.bucket = new_container("orc-contract")
            self.uri = f"az://{self.bucket}/{KEY}"
        self.where = self.uri
        self.board_where = f"the claims board {self.uri}.claims"

    def open(self, on_wait: Callable[[str], None] | None = None) -> StateBackend:
        return backend_for_uri(self.uri, Settings(), on_wait=on_wait)

    def _raw(self, key: str) -> tuple[bytes, str] | None:
        """An object's bytes and version (None: no object)."""
        if self.kind == "s3":
            client = s3_client()
            try:
                found = client.get_object(Bucket=self.bucket, Key=key)
            except client.exceptions.NoSuchKey:
                return None
            return found["Body"].read(), str(found["ETag"])
        if self.kind == "gcs":
            blob = gcs_client().bucket(self.bucket).get_blob(key)
            return None if blob is None else (blob.download_as_bytes(), str(blob.generation))
        client = azure_service().get_blob_client(self.bucket, key)
        if not client.exists():
            return None
        download = client.download_blob()
        return download.readall(), str(download.properties.etag)

    def _put(self, key: str, data: bytes) -> None:
        if self.kind == "s3":
            s3_client().put_object(Bucket=self.bucket, Key=key, Body=data)
        elif self.kind == "gcs":
            gcs_client().bucket(self.bucket).blob(key).upload_from_string(data)
        else:
            azure_service().get_blob_client(self.bucket, key).upload_blob(data, overwrite=True)

    def stored(self) -> bytes | None:
        found = self._raw(KEY)
        return None if found is None else found[0]

    def version(self) -> str:
        found = self._raw(KEY)
        assert found is not None
        return found[1]

    def corrupt(self) -> None:
        self._put(KEY, CORRUPT)

    def board(self) -> tuple[bytes, str] | None:
        return self._raw(BOARD)

    def put_board(self, text: str) -> None:
        self._put(BOARD, text.encode("utf-8"))


class HttpPlace(Place):
    """The state API on a real HTTP server of this process, emptied."""

    kind = "http"

    def __init__(self, server: StateApiServer, root: Path) -> None:
        server.heal()
        server.items.clear()
        self.server = server
        self.root = root
        self.uri = "orchestra://"
        self.settings = {"api_key": API_KEY, "api_base_url": server.base_url}
        self.where = server.base_url
        self.board_where = ""
        self.corrupt_says = "'model.p.corrupt'"

    def open(self, on_wait: Callable[[str], None] | None = None) -> StateBackend:
        from orchestra_dbt_py.state.http import HttpBackend

        return HttpBackend(
            self.server.base_url,
            API_KEY,
            unsaved_dir=self.root / ".orchestra",
            on_wait=on_wait,
            max_attempts=3,
            backoff_seconds=0.01,
            max_backoff_seconds=0.05,
        )

    def stored(self) -> bytes:
        return json.dumps(self.server.document(), sort_keys=True).encode("utf-8")

    def version(self) -> bytes:
        return self.stored()

    def corrupt(self) -> None:
        with self.server.lock:
            self.server.items["model.p.corrupt"] = {"last_updated": "later"}

    def corruption(self) -> Any:
        return self.server.document()["state"].get("model.p.corrupt")

    def board(self) -> None:
        return None

    def put_board(self, text: str) -> None:
        raise NotImplementedError("the Orchestra API keeps no claims board")

    def fail_saves(self) -> None:
        self.server.break_down(Misbehaviour(status=500, body=b"internal error", method="PATCH"))

    def unsaved(self) -> list[Path]:
        return sorted((self.root / ".orchestra").glob("unsaved-state-*.json"))


class WarehousePlace(Place):
    """A new table in the schema of a staged integration_tests project, written through
    one dbt session of this process."""

    def __init__(self, warehouse: Warehouse, name: str) -> None:
        self.kind = warehouse.project.target
        self.warehouse = warehouse
        self.table = f"{warehouse.project.schema}.{name}"
        self.where = f"warehouse:{self.table}"
        self.board_where = f"the claims table warehouse:{self.table}__claims"
        self.corrupt_says = "has an invalid item 'model.p.m'"

    def open(self, on_wait: Callable[[str], None] | None = None) -> StateBackend:
        from orchestra_dbt_py.state.table import WarehouseBackend

        return WarehouseBackend(self.table, self.warehouse.caller, on_wait=on_wait)

    def stored(self) -> list[tuple[str, ...]] | None:
        if not self.warehouse.project.exists(self.table):
            return None
        return [tuple(row) for row in self.warehouse.project.rows(self.table)]

    def version(self) -> list[tuple[str, ...]] | None:
        return self.stored()

    def corrupt(self) -> None:
        self.open().init()
        self.warehouse.project.execute(
            f"insert into {self.table} values ('model.p.m', 'node', "
            "'2024-01-04T00:00:00.000000Z', '{\"last_updated\": \"2024-')"
        )

    def stored_keys(self) -> set[str]:
        return {row[0] for row in self.stored() or []}

    def empty(self) -> list[tuple[str, ...]]:
        return []

    def board_text(self) -> str | None:
        board = self.board()
        return None if board is None else str(board[0])

    def board(self) -> list[Any] | None:
        claims = f"{self.table}__claims"
        if not self.warehouse.project.exists(claims):
            return None
        return [row[0] for row in self.warehouse.project.query(f"select board from {claims}")]

    def put_board(self, text: str) -> None:
        self.open().change_claims(lambda board: (board, None))  # makes the table
        quoted = text.replace("'", "''")
        self.warehouse.project.execute(f"update {self.table}__claims set board = '{quoted}'")


class Warehouse:
    """A staged integration_tests project with one parsed dbt session, shared by the
    tables of every test of one target."""

    def __init__(self, project: HookedProject, session: Any) -> None:
        self.project = project
        self.session = session
        self.tables = 0

    def caller(self) -> Any:
        from orchestra_dbt_py.dbt.queries import Warehouse as DbtWarehouse

        return DbtWarehouse(self.session)

    def new_place(self) -> WarehousePlace:
        self.tables += 1
        return WarehousePlace(self, f"orc_contract_{self.tables}")


@contextmanager
def warehouse_session(root: Path, target: str) -> Iterator[Warehouse]:
    """The integration_tests project staged under `root` for `target`, with a dbt session
    parsed in this process (in the project's folder and environment, kept until the end)."""
    from dbt.adapters.factory import reset_adapters

    from orchestra_dbt_py.dbt.command import parse_command
    from orchestra_dbt_py.dbt.session import DbtSession

    project = stage(root, target)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in project.env.items():
            patch.setenv(key, value)
        patch.chdir(project.dir)
        session = DbtSession(parse_command(["parse"]))
        try:
            yield Warehouse(project, session)
        finally:
            session.adapter.cleanup_connections()
            reset_adapters()
            project.drop()


# --- concurrent writers ----------------------------------------------------------------------


def write_rounds(backend: StateBackend, index: int, barrier: Barrier | threading.Barrier) -> None:
    """One writer: after all have started, ROUNDS updates, each adding a record of its own
    and a newer version of a record every writer shares."""
    barrier.wait(timeout=60)
    for round_ in range(ROUNDS):
        backend.update(
            {
                f"model.p.w{index}_r{round_}": record(index),
                "model.p.shared": record(100 * round_ + index, f"w{index}_r{round_}"),
            }
        )


def write_rounds_at(uri: str, settings: dict[str, Any], index: int, barrier: Barrier) -> None:
    """`write_rounds` in a process of its own, on the backend `uri` names."""
    write_rounds(backend_for_uri(uri, Settings(**settings)), index, barrier)


def assert_nothing_lost(items: dict[str, NodeRecord]) -> None:
    expected = {f"model.p.w{i}_r{r}" for i in range(WRITERS) for r in range(ROUNDS)}
    assert set(items) == expected | {"model.p.shared"}
    newest = 100 * (ROUNDS - 1) + WRITERS - 1
    assert items["model.p.shared"].checksum == f"w{WRITERS - 1}_r{ROUNDS - 1}"
    assert items["model.p.shared"].last_updated == T0 + timedelta(seconds=newest)
