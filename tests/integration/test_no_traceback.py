"""Hostile and broken input to every `orc` command that reads state: each answer is one
line naming the problem, exit 2, never a traceback, and nothing is overwritten."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tutorial import Project, make_project

GOOD_ITEM = {"last_updated": "2026-11-22T07:00:00Z", "checksum": "c"}

BAD_STATE_FILES: dict[str, bytes] = {
    "empty": b"",
    "not-json": b"{oops",
    "not-utf8": b'\xff\xfe{"state": {}}',
    "array": b"[]",
    "state-not-object": b'{"state": 5}',
    "unknown-top-level": b'{"state": {}, "other": 1}',
    "item-not-object": b'{"state": {"a": []}}',
    "time-not-string": b'{"state": {"a": {"last_updated": 5}}}',
    "time-garbage": b'{"state": {"a": {"last_updated": "yesterday"}}}',
    "time-year-0": b'{"state": {"a": {"last_updated": "0001-01-01T00:00:00+01:00"}}}',
    "time-year-10000": b'{"state": {"a": {"last_updated": "9999-12-31T23:59:59-01:00"}}}',
    "time-feb-30": b'{"state": {"a": {"last_updated": "2026-02-30T00:00:00Z"}}}',
    "huge-number": b'{"state": {"a": {"last_updated": "2026-01-01T00:00:00Z", '
    b'"execution_time": 1e999}}}',
    "nan": b'{"state": {"a": {"last_updated": "2026-01-01T00:00:00Z", "execution_time": NaN}}}',
    "duplicate-key": b'{"state": {"a": {"last_updated": "2026-01-01T00:00:00Z"}, "a": {}}}',
    "deep-nesting": b'{"state": {"a": {"last_updated": "2026-01-01T00:00:00Z", "x": '
    + b"[" * 100_000
    + b"]" * 100_000
    + b"}}}",
    "sources-wrong": b'{"state": {"a": {"last_updated": "2026-01-01T00:00:00Z", "sources": []}}}',
    "versions-wrong": b'{"state": {"a": {"last_updated": "2026-01-01T00:00:00Z", '
    b'"data_versions": {"s": {"rows": 5}}}}}',
    "removed-not-list": b'{"state": {}, "removed": 5}',
}

BAD_JOURNALS: dict[str, bytes] = {
    "removed-number": b'{"removed": 5}\n',
    "garbage-line": b"{oops\n",
    "binary-line": b"\xff\xfe\x00\n",
    "empty-object": b"{}\n",
    "bad-item": b'{"state": {"a": {"last_updated": "0001-01-01T00:00:00+01:00"}}}\n',
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    proj = make_project(tmp_path_factory.mktemp("hostile"), "duckdb")
    proj.env["ORCHESTRA_USE_STATEFUL"] = "true"
    proj.orc("dbt", "deps", "--quiet")
    proj.orc("dbt", "run-operation", "load_raw_data")
    proj.orc("state", "init")
    yield proj


def assert_one_line_error(completed: subprocess.CompletedProcess[str]) -> None:
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output, output
    assert completed.returncode == 2, output
    errors = [line for line in completed.stderr.splitlines() if line.startswith("orc: error:")]
    assert len(errors) == 1, completed.stderr
    assert len(errors[0]) < 600, errors[0]


@pytest.mark.parametrize("name", sorted(BAD_STATE_FILES))
def test_a_bad_state_file(project: Project, name: str) -> None:
    content = BAD_STATE_FILES[name]
    project.state_path.write_bytes(content)
    for args in (("state", "show"), ("state", "validate")):
        assert_one_line_error(project.orc(*args, expect=None))
    push = project.dir / "push.json"
    push.write_bytes(content)
    project.state_path.write_text(json.dumps({"state": {"model.p.kept": GOOD_ITEM}}))
    kept = project.state_path.read_bytes()
    assert_one_line_error(project.orc("state", "push", str(push), expect=None))
    assert project.state_path.read_bytes() == kept


@pytest.mark.parametrize("name", ["not-json", "time-year-0", "deep-nesting"])
def test_a_bad_state_file_stops_plan_and_build_before_dbt(project: Project, name: str) -> None:
    project.state_path.write_bytes(BAD_STATE_FILES[name])
    for args in (("plan",), ("dbt", "build")):
        assert_one_line_error(project.orc(*args, expect=None))
    assert project.state_path.read_bytes() == BAD_STATE_FILES[name]


@pytest.mark.parametrize("name", sorted(BAD_JOURNALS))
def test_a_bad_journal_line(project: Project, name: str) -> None:
    project.state_path.write_text(json.dumps({"state": {"model.p.kept": GOOD_ITEM}}))
    journal = project.state_path.with_name("state.json.journal")
    journal.write_bytes(BAD_JOURNALS[name])
    try:
        for args in (("state", "show"), ("state", "forget", "--all")):
            assert_one_line_error(project.orc(*args, expect=None))
        assert journal.read_bytes() == BAD_JOURNALS[name]
    finally:
        journal.unlink()


def test_a_state_path_that_is_a_directory(project: Project, tmp_path: Path) -> None:
    for args in (("state", "validate", str(tmp_path)), ("state", "push", str(tmp_path))):
        assert_one_line_error(project.orc(*args, expect=None))
    env = {"ORCHESTRA_STATE_FILE": str(tmp_path)}
    for args in (("state", "show"), ("state", "forget", "--all")):
        assert_one_line_error(project.orc(*args, expect=None, **env))


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z"])
def test_a_record_at_either_end_of_the_calendar_is_read_and_not_trusted(
    project: Project, moment: str
) -> None:
    item = {"last_updated": moment, "checksum": "c", "relation": "x"}
    project.state_path.write_text(json.dumps({"state": {"model.jaffle_tutorial.stg_orders": item}}))
    assert moment[:4] in project.orc("state", "show").stdout
    plan = project.orc("plan", "--select", "stg_orders")
    assert "Traceback" not in plan.stdout + plan.stderr
    assert re.search(r"stg_orders +model +build", plan.stdout), plan.stdout
