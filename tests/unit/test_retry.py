"""`orc dbt retry` reads the previous run as dbt's retry does: its command and flags from the
run_results.json it left, and what to run again (what failed or was skipped, not what orc
reused)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.dbt.command import parse_command
from orchestra_dbt_py.dbt.retry import previous_run

pytestmark = pytest.mark.compat

RESULTS = [
    {"unique_id": "model.p.failed", "status": "error", "message": "boom"},
    {"unique_id": "model.p.after_it", "status": "skipped", "message": None},
    {"unique_id": "model.p.reused", "status": "skipped", "message": "reused by orc: unchanged"},
    {"unique_id": "model.p.reused_112", "status": "reused", "message": "reused by orc: same"},
    {"unique_id": "model.p.cloned", "status": "skipped", "message": "cloned by orc from x: y"},
    {"unique_id": "model.p.built", "status": "success", "message": "OK"},
    {"unique_id": "test.p.failing", "status": "fail", "message": None},
    {"unique_id": "test.p.warning", "status": "warn", "message": None},
    {"unique_id": "operation.p.hook", "status": "error", "message": None},
]


def _project(root: Path, args: dict[str, Any], folder: str = "target") -> Path:
    (root / "dbt_project.yml").write_text("name: p\nprofile: p\n")
    (root / folder).mkdir()
    document = {"args": args, "results": RESULTS}
    (root / folder / "run_results.json").write_text(json.dumps(document))
    return root


def test_the_previous_command_on_what_failed_and_what_dbt_skipped(tmp_path: Path) -> None:
    previous = {
        "which": "build",
        "select": ["tag:orc_run_1"],
        "full_refresh": True,
        "target": "prod",
        "threads": 2,
        "project_dir": "/elsewhere",
    }
    root = _project(tmp_path, previous)
    here = ["retry", "--project-dir", str(root), "--profiles-dir", str(root)]
    retry = previous_run(parse_command([*here, "--threads", "4"]))
    assert retry is not None
    assert set(retry.nodes) == {"model.p.failed", "model.p.after_it", "test.p.failing"}
    command = retry.command
    assert command.subcommand == "build" and command.full_refresh
    assert command.params["target"] == "prod"
    # The retry's own paths and --threads, as dbt's retry takes them.
    assert command.params["threads"] == 4
    assert command.params["project_dir"] == str(root)
    warned = previous_run(parse_command(["--warn-error", *here]))
    assert warned is not None and "test.p.warning" in warned.nodes


def test_plain_dbt_retry_where_orc_did_not_plan_the_previous_command(tmp_path: Path) -> None:
    root = _project(tmp_path, {"which": "seed"}, folder="elsewhere")
    here = ["retry", "--project-dir", str(root), "--profiles-dir", str(root)]
    assert previous_run(parse_command(here)) is None  # no results in target/
    assert previous_run(parse_command([*here, "--state", "elsewhere"])) is None  # a seed
