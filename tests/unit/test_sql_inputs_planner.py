"""Inputs found in a model's compiled SQL in the decision (core/implicit.py): a relation read
by name, a table function, the clock at day grain and below it, and SQL that cannot be read;
and how their versions travel through a record."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestra_dbt_py.core.document import dump_item_json, parse_item_json
from orchestra_dbt_py.core.finished import finished_record
from orchestra_dbt_py.core.implicit import OPT_OUT, ImplicitInput, SqlInputs
from orchestra_dbt_py.core.planner import plan
from orchestra_dbt_py.core.versions import DataVersion
from orchestra_dbt_py.errors import OrcError
from tests.support.planner_graph import (
    FCT,
    NOW,
    ORDERS,
    PAYMENTS,
    REPORT,
    SEEN,
    TEST_FCT,
    TEST_REL,
    good_state,
    graph,
    versions_of,
)

REL = ImplicitInput.of("relation", '"db"."raw"."src_3"', "raw.src_3")
CLOCK = ImplicitInput.of("clock", "CURRENT_DATE")
VOLATILE = ImplicitInput.of("volatile", "CURRENT_TIMESTAMP")
FUNCTION = ImplicitInput.of("function", "READ_CSV('x.csv')")
RECORDED: dict[str, DataVersion] = {
    REL.key: {"rows": "300"},
    CLOCK.key: {"value": "2026-12-05"},
    VOLATILE.key: {},
}
READS = SqlInputs((REL, CLOCK, VOLATILE))


@pytest.mark.parametrize(
    ("sql", "reads", "observed", "build", "reason"),
    [
        (READS, RECORDED, {REL.key: {"rows": "300"}, CLOCK.key: {"value": "2026-12-05"}}, False,
         "definition and upstream data unchanged"),
        (READS, RECORDED, {REL.key: {"rows": "325"}, CLOCK.key: {"value": "2026-12-05"}}, True,
         "reads raw.src_3 directly, not as a source: rows 300 -> 325"),
        (READS, RECORDED, {CLOCK.key: {"value": "2026-12-05"}}, True,
         "reads raw.src_3 directly, not as a source: it does not exist or cannot be measured"),
        (READS, None, {REL.key: {"rows": "300"}, CLOCK.key: {"value": "2026-12-05"}}, True,
         "reads raw.src_3 directly, not as a source: no data version of it was recorded"),
        (READS, RECORDED, {REL.key: {"rows": "300"}, CLOCK.key: {"value": "2026-12-06"}}, True,
         "reads current_date: 2026-12-05 -> 2026-12-06"),
        (READS, RECORDED, {REL.key: {"rows": "300"}}, True,
         "reads current_date, which could not be evaluated"),
        (SqlInputs((VOLATILE,), evaluate_volatile=True), RECORDED, {}, True,
         "reads current_timestamp, evaluated on every run (evaluate_volatile_sql is set)"),
        (SqlInputs((VOLATILE,)), RECORDED, {}, False, "definition and upstream data unchanged"),
        (SqlInputs((FUNCTION,)), {FUNCTION.key: {}}, {}, True,
         "reads read_csv('x.csv'), a table function orc cannot measure"),
        (SqlInputs(unreadable="sqlglot: Expected table name"), None, {}, True,
         f"its compiled SQL cannot be read (sqlglot: Expected table name), so what it reads "
         f"is unknown: declare its inputs as sources, or set {OPT_OUT}"),
    ],
    ids=[
        "unchanged: reused",
        "new rows in a relation read by name",
        "a relation read by name that cannot be measured",
        "a record without reads (an older orc)",
        "the next day",
        "a clock that could not be evaluated",
        "a sub-day clock the model asks to evaluate: every run",
        "a sub-day clock is static by default",
        "a table function",
        "SQL that cannot be read",
    ],
)  # fmt: skip
def test_inputs_found_in_the_compiled_sql(
    sql: SqlInputs,
    reads: dict[str, DataVersion] | None,
    observed: dict[str, DataVersion],
    build: bool,
    reason: str,
) -> None:
    nodes = graph()
    state = good_state(nodes)
    state[FCT] = replace(state[FCT], reads=reads)
    versions = {**versions_of({ORDERS: SEEN, PAYMENTS: SEEN}), **observed}
    existing = {n.relation for n in nodes.values() if n.relation}
    selected = {FCT, REPORT, TEST_FCT, TEST_REL}
    result = plan(nodes, selected, state, versions, existing, NOW, sql_inputs={FCT: sql})
    decision = result.decisions[FCT]
    assert (decision.action == "build") is build, decision.reason
    assert reason in decision.reason
    assert result.decisions[TEST_FCT].action == decision.action  # its tests follow it
    measured = [i for i in sql.measured() if not versions.get(i.key)]
    assert result.unmeasured_inputs == tuple(i.label for i in measured)
    assert result.unreadable_sql == ((FCT,) if sql.unreadable else ())


def test_a_build_records_what_it_read_and_the_record_round_trips() -> None:
    nodes = graph()
    versions = {
        **versions_of({ORDERS: SEEN, PAYMENTS: SEEN}),
        REL.key: {"rows": "300"},
        CLOCK.key: {"value": "2026-12-05"},
    }
    record = finished_record(
        nodes, FCT, "success", 1.0, known=good_state(nodes), versions=versions,
        checksum="c", now=NOW, sql_inputs=READS,
    )  # fmt: skip
    assert record is not None and record.reads == RECORDED
    assert parse_item_json(FCT, dump_item_json(record), "test") == record
    unreadable = finished_record(
        nodes, FCT, "success", 1.0, known={}, versions=versions, checksum="c", now=NOW,
        sql_inputs=SqlInputs(unreadable="x"),
    )  # fmt: skip
    assert unreadable is not None and unreadable.reads is None
    assert "reads" not in dump_item_json(unreadable)
    with pytest.raises(OrcError, match='"reads" of'):
        parse_item_json(FCT, '{"last_updated": "2026-12-05T00:00:00Z", "reads": {"x": 1}}', "t")


def test_unmeasured_inputs_and_unreadable_sql_are_named_in_the_plan_and_its_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from orchestra_dbt_py.report import console
    from orchestra_dbt_py.report.plan import plan_document

    nodes = graph()
    state = good_state(nodes)
    existing = {n.relation for n in nodes.values() if n.relation}
    sql = {FCT: SqlInputs((REL, FUNCTION)), REPORT: SqlInputs(unreadable="x")}
    result = plan(nodes, {FCT}, state, {}, existing, NOW, sql_inputs=sql)
    summary = plan_document([], result, nodes, {}, 0.0)["summary"]
    assert summary["unmeasured_inputs"] == ["raw.src_3", "read_csv('x.csv')"]
    console.configure({})
    console.announce_plan(result, nodes)
    out = capsys.readouterr().out
    assert "2 inputs read by name have no measurable data version" in out
    assert "raw.src_3, read_csv('x.csv')" in out


class _Config(dict):  # dbt's model config: `meta`, and other keys through `get`
    @property
    def meta(self) -> dict[str, object]:
        return self.get("meta") or {}  # type: ignore[return-value]


def _model(**config: object) -> object:
    from types import SimpleNamespace

    return SimpleNamespace(name="m", meta={}, config=_Config(config))


@pytest.mark.parametrize(
    ("config", "evaluate"),
    [
        ({}, False),
        ({"meta": {"orchestra_dbt": {"evaluate_volatile_sql": True}}}, True),
        ({"state": {"evaluate_volatile_sql": True}}, True),
        ({"state": {"evaluate_volatile_sql": False}}, False),
    ],
)
def test_a_model_asks_for_its_sub_day_clocks_to_be_evaluated(
    config: dict[str, object], evaluate: bool
) -> None:
    from orchestra_dbt_py.dbt.sql_inputs import _evaluate_volatile, _settings

    model = _model(**config)
    assert _evaluate_volatile(model, _settings(model)) is evaluate


def test_evaluate_volatile_sql_must_be_true_or_false() -> None:
    from orchestra_dbt_py.dbt.sql_inputs import _evaluate_volatile, _settings

    model = _model(meta={"orchestra_dbt": {"evaluate_volatile_sql": "yes"}})
    with pytest.raises(OrcError, match=r"model m sets meta\.orchestra_dbt\.evaluate_volatile_sql"):
        _evaluate_volatile(model, _settings(model))


def test_reads_may_only_say_none() -> None:
    from orchestra_dbt_py.dbt.sql_inputs import _settings

    assert _settings(_model(meta={"orchestra_dbt": {"reads": []}})) == {"reads": []}
    with pytest.raises(OrcError, match=r"model m: meta orchestra_dbt.reads may only be \[\]"):
        _settings(_model(meta={"orchestra_dbt": {"reads": ["raw.x"]}}))
