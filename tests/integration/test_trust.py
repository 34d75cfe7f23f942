"""Records orc cannot trust, torn journals and out-of-range times, on the real tutorial: orc
rebuilds what it cannot vouch for, keeps every record, and answers bad input with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.tutorial import Project, assert_matches_full_build, built_relations, full_key

pytestmark = pytest.mark.parametrize("target", ["duckdb"])

FCT_ORDERS = "model.jaffle_tutorial.fct_orders"
DAILY = "model.jaffle_tutorial.customer_revenue_daily"


def set_last_updated(project: Project, unique_id: str, moment: str) -> None:
    document = json.loads(project.state_path.read_text())
    document["state"][full_key(document, unique_id)]["last_updated"] = moment
    project.state_path.write_text(json.dumps(document))


def stored(project: Project) -> dict[str, dict[str, object]]:
    """The full records of the state (the plain keys hold slim mirrors), by unique id."""
    state = json.loads(project.orc("state", "show", "--json").stdout)["state"]
    return {key.partition("@")[0]: item for key, item in state.items() if "@" in key}


def assert_one_line_error(completed: object, *words: str) -> None:
    stderr = completed.stderr  # type: ignore[attr-defined]
    assert completed.returncode == 2, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and "Traceback" not in completed.stdout  # type: ignore[attr-defined]
    errors = [line for line in stderr.splitlines() if line.startswith("orc: error:")]
    assert len(errors) == 1, stderr
    for word in words:
        assert word in stderr, stderr


def test_a_future_dated_record_never_vouches_for_a_table(built: Project) -> None:
    """Repro 1: a record dated 2099 used to win every merge, so the build of the changed SQL
    was forgotten and the reverted SQL was then 'reused' over a table built from the other."""
    set_last_updated(built, FCT_ORDERS, "2099-01-01T00:00:00Z")
    path = built.dir / "models" / "marts" / "fct_orders.sql"
    original = path.read_text()
    path.write_text(original.replace("orders.amount", "orders.amount * 2 as amount", 1))

    plan = json.loads(built.orc("plan", "--output", "json").stdout)
    reason = next(n["reason"] for n in plan["nodes"] if n["unique_id"] == FCT_ORDERS)
    assert "2099-01-01" in reason and "not trusted" in reason
    validate = built.orc("state", "validate", expect=2)
    assert FCT_ORDERS in validate.stderr and "not trusted" in validate.stderr

    artifact = built.build()
    assert "fct_orders" in built_relations(artifact)
    record = stored(built)[FCT_ORDERS]
    assert not str(record["last_updated"]).startswith("2099"), "the fresh build must win"

    path.write_text(original)
    artifact = built.build()
    assert "fct_orders" in built_relations(artifact)
    assert_matches_full_build(built, artifact)


def test_a_torn_journal_line_is_set_aside_and_nothing_is_lost(built: Project) -> None:
    """Repro 2: a journal ending in half a line used to swallow the next run's records."""
    journal = built.state_path.with_name("state.json.journal")
    torn = b'{"state": {"x": {"checks'
    journal.write_bytes(torn)
    assert "x" not in stored(built)

    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    artifact = built.build()
    assert "fct_orders" in built_relations(artifact)

    aside = list(journal.parent.glob("state.json.journal.torn-line-*"))
    assert [p.read_bytes() for p in aside] == [torn]
    records = stored(built)
    rebuilt = next(n for n in artifact["nodes"] if n["unique_id"] == FCT_ORDERS)
    assert records[FCT_ORDERS]["status"] == "success" and rebuilt["status"] == "success"
    assert built.build()["summary"]["build"] == 0, "everything the run built was recorded"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "10000-01-01T00:00:00Z"])
def test_out_of_range_times_are_one_line_errors(built: Project, moment: str) -> None:
    """Repro 8: a time outside the years 1-9999 in UTC used to raise OverflowError."""
    before = built.state_path.read_bytes()
    document = json.loads(before)
    document["state"][full_key(document, FCT_ORDERS)]["last_updated"] = moment
    built.state_path.write_text(json.dumps(document))
    edited = built.state_path.read_bytes()
    for args in (("state", "show"), ("plan",), ("dbt", "build"), ("state", "validate")):
        assert_one_line_error(built.orc(*args, expect=None), FCT_ORDERS)
    assert built.state_path.read_bytes() == edited, "nothing overwritten"

    built.state_path.write_bytes(before)
    push = built.dir / "unsaved.json"
    push.write_text(json.dumps(document))
    assert_one_line_error(built.orc("state", "push", str(push), expect=None), FCT_ORDERS)
    assert built.state_path.read_bytes() == before


def test_a_record_dated_at_the_end_of_time_with_build_after(built: Project) -> None:
    """Repro 8: `9999-12-31T23:59:59Z` on a model with build_after, once new data arrives,
    used to overflow the due time; it is a record from the future: rebuilt."""
    set_last_updated(built, DAILY, "9999-12-31T23:59:59Z")
    built.orc("dbt", "run-operation", "load_raw_data", "--args", "{batch: 2}")
    artifact = built.build()
    decision = next(n for n in artifact["nodes"] if n["unique_id"] == DAILY)
    assert decision["decision"] == "build" and "not trusted" in decision["reason"]
    assert not str(stored(built)[DAILY]["last_updated"]).startswith("9999")


def test_validate_lists_every_problem_with_its_key(tmp_path: Path, built: Project) -> None:
    document = {
        "state": {
            "a": {"last_updated": "2099-01-01T00:00:00Z"},
            "b": {"last_updated": 5},
            "c": [],
            "d": {"last_updated": "2026-01-01T00:00:00Z", "upstream": {"x": "yesterday"}},
            "e": {"last_updated": "2026-01-01T00:00:00Z"},
        }
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(document))
    completed = built.orc("state", "validate", str(path), expect=2)
    problems = [line for line in completed.stderr.splitlines() if line.startswith(str(path))]
    assert [line.split("'")[1] for line in problems] == ["b", "c", "d", "a"]
    assert "4 problems" in completed.stderr
