"""`migrate` between every pair of backends (local file, S3 on the moto server, the HTTP API
on a real local server), opened by URI as `orc state migrate --from URI --to URI` does: the
items arrive unchanged and come back unchanged."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parents[1]
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from state_servers import StateApiServer, new_bucket, requires_s3, state_api_server  # noqa: E402

from orchestra_dbt_py.config import Settings  # noqa: E402
from orchestra_dbt_py.state import NodeRecord, StateBackend, backend_for_uri  # noqa: E402
from orchestra_dbt_py.state.transfer import migrate  # noqa: E402

KEY = "sk-migrate-test-0001"
T0 = datetime(2026, 11, 22, 7, 31, 17, 250000, tzinfo=UTC)

ITEMS = {
    "model.p.orders": NodeRecord(
        last_updated=T0,
        checksum="c0ffee",
        sources={"source.p.raw.orders": T0 - timedelta(hours=1), "source.p.raw.other": None},
        fingerprint="fp1",
        relation='"db"."main"."orders"',
        upstream={"model.p.stg_orders": T0 - timedelta(minutes=5)},
        status="success",
        execution_time=1.5,
        extra={"written_by": "dbt-orchestra", "nested": {"list": [1, "two", None]}},
    ),
    "model.p.stg_orders": NodeRecord(last_updated=T0 - timedelta(minutes=5)),
    "test.p.not_null_orders_id": NodeRecord(last_updated=T0, status="pass"),
}


@pytest.fixture
def api() -> Iterator[StateApiServer]:
    with state_api_server(KEY) as running:
        yield running


Opener = Callable[[str], StateBackend]


def opener(kind: str, tmp_path: Path, api: StateApiServer) -> StateBackend:
    """A fresh, empty backend of `kind`, opened by URI."""
    settings = Settings(api_key=KEY, api_base_url=api.base_url)
    if kind == "local":
        uri = f"state-{len(list(tmp_path.iterdir()))}.json"
    elif kind == "s3":
        uri = f"s3://{new_bucket('orc-migrate')}/orc/state.json"
    else:
        uri = "orchestra://"
        api.items.clear()
    return backend_for_uri(uri, settings, workdir=tmp_path)


KINDS = {"local": [], "s3": requires_s3, "http": []}
PAIRS = [
    pytest.param(source, target, marks=[*KINDS[source], *KINDS[target]], id=f"{source}-{target}")
    for source in KINDS
    for target in KINDS
    if source != target
]


@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS)
def test_migrate_round_trips_the_items(
    source_kind: str, target_kind: str, tmp_path: Path, api: StateApiServer
) -> None:
    source = opener(source_kind, tmp_path, api)
    source.init()
    source.update(ITEMS)
    assert source.load() == ITEMS

    target = opener(target_kind, tmp_path, api)
    result = migrate(source, target)
    assert (result.sent, result.total) == (len(ITEMS), len(ITEMS))
    assert target.load() == ITEMS

    back = opener(source_kind, tmp_path, api)
    migrate(target, back)
    assert back.load() == ITEMS
