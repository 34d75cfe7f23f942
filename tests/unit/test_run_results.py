"""run_results.json after a stateful run: dbt's results plus one per reused node."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orchestra_dbt_py.dbt.run_results import add_reused_results, reused_status

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

STARTED = datetime.now(UTC) - timedelta(seconds=5)
ARGS = {"which": "build", "invocation_command": "dbt build"}


def dbt_wrote(path: Path, *uids: str) -> None:
    results = [{"unique_id": uid, "status": "success"} for uid in uids]
    path.write_text(json.dumps({"metadata": {"invocation_id": "dbt"}, "results": results}))


def results_of(path: Path) -> dict[str, str]:
    return {r["unique_id"]: r["status"] for r in json.loads(path.read_text())["results"]}


def test_reused_and_cloned_nodes_are_added_to_what_dbt_wrote_in_this_run(tmp_path: Path) -> None:
    path = tmp_path / "run_results.json"
    dbt_wrote(path, "model.p.a")
    cloned = 'cloned by orc from "db"."prod"."c": same definition, its data current'
    messages = {"model.p.a": "x", "model.p.b": "reused by orc: unchanged", "model.p.c": cloned}
    add_reused_results(tmp_path, messages, {"model.p.b": '"db"."s"."b"'}, STARTED, ARGS)
    assert results_of(path) == {
        "model.p.a": "success",
        "model.p.b": reused_status(),
        "model.p.c": reused_status(),
    }
    document = json.loads(path.read_text())
    assert document["metadata"] == {"invocation_id": "dbt"}
    assert document["results"][1]["relation_name"] == '"db"."s"."b"'
    assert document["results"][1]["message"] == "reused by orc: unchanged"
    assert document["results"][2]["message"] == cloned


def test_a_previous_runs_file_or_a_broken_one_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "run_results.json"
    for broken in (True, False):
        dbt_wrote(path, "model.p.old")
        if broken:
            path.write_text("{not json")
        else:
            old = (STARTED - timedelta(hours=1)).timestamp()
            os.utime(path, (old, old))
        add_reused_results(tmp_path, {"model.p.b": "reused by orc: unchanged"}, {}, STARTED, ARGS)
        assert results_of(path) == {"model.p.b": reused_status()}
        document = json.loads(path.read_text())
        assert document["args"] == ARGS
        assert document["metadata"]["generated_at"].endswith("Z")


def test_the_results_of_earlier_rounds_are_kept(tmp_path: Path) -> None:
    """A run that waited for another runs dbt twice; dbt's second file lacks the first's."""
    from orchestra_dbt_py.dbt.run_results import results_since

    path = tmp_path / "run_results.json"
    dbt_wrote(path, "model.p.a")
    first = results_since(tmp_path, STARTED)
    dbt_wrote(path, "model.p.c")
    ran = first + results_since(tmp_path, STARTED)
    add_reused_results(tmp_path, {"model.p.b": "built by another run"}, {}, STARTED, ARGS, ran)
    assert results_of(path) == {
        "model.p.a": "success",
        "model.p.b": reused_status(),
        "model.p.c": "success",
    }
    assert results_since(tmp_path, datetime.now(UTC) + timedelta(minutes=1)) == []
