"""The planner's rules, one case each, on a small graph of plain data."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from orchestra_dbt_py.core.graph import (
    BuildAfter,
    Node,
    effective_build_after,
    holds_data,
    sources_to_measure,
    topological_order,
)
from orchestra_dbt_py.core.planner import PlanOptions, plan
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion, source_version
from tests.support.planner_graph import (
    EPH,
    FCT,
    HOUR,
    INT,
    NEWER,
    NOW,
    ORDERS,
    PAYMENTS,
    REPORT,
    SEED,
    SEEN,
    STG_ORDERS,
    STG_PAYMENTS,
    TEST_FCT,
    TEST_REL,
    TEST_SRC,
    good_state,
    graph,
    relation,
    versions_of,
)


@dataclass
class Case:
    name: str
    expect_build: set[str]
    nodes: dict[str, Node] = field(default_factory=graph)
    freshness: dict[str, datetime | None] = field(
        default_factory=lambda: {ORDERS: SEEN, PAYMENTS: SEEN}
    )
    state_changes: dict[str, NodeRecord | None] = field(default_factory=dict)
    missing_relations: set[str] = field(default_factory=set)
    selected: set[str] | None = None
    options: PlanOptions = field(default_factory=PlanOptions)
    now: datetime = NOW
    reason_contains: dict[str, str] = field(default_factory=dict)
    # Data versions observed now of tables (and of sources, beyond their loaded_at).
    table_versions: dict[str, DataVersion] = field(default_factory=dict)


def with_record(uid: str, **changes: object) -> dict[str, NodeRecord | None]:
    return {uid: replace(good_state(graph())[uid], **changes)}  # type: ignore[arg-type]


ALL_MODELS = {STG_ORDERS, STG_PAYMENTS, INT, FCT, REPORT, SEED}
ALL_TESTS = {TEST_FCT, TEST_REL, TEST_SRC}
FCT_POLICY = BuildAfter(4 * HOUR, "any")

CASES = [
    Case("nothing changed: everything reused", set()),
    Case(
        "first run: no state, everything built",
        ALL_MODELS | ALL_TESTS,
        state_changes={uid: None for uid in good_state(graph())},
    ),
    Case(
        "newer data in orders: tables downstream and their tests, not views",
        {INT, FCT, TEST_FCT, TEST_REL, TEST_SRC},
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        reason_contains={INT: "source raw.orders has data from"},
    ),
    Case(
        "equal freshness: reused",
        set(),
        freshness={ORDERS: SEEN, PAYMENTS: SEEN},
    ),
    Case(
        "older freshness than recorded (data removed): rebuilt",
        {INT, FCT, TEST_FCT, TEST_REL, TEST_SRC},
        freshness={ORDERS: SEEN - HOUR, PAYMENTS: SEEN},
        reason_contains={INT: "now reports"},
    ),
    Case(
        "unmeasurable source counts as changed",
        {INT, FCT, TEST_FCT, TEST_REL, TEST_SRC},
        freshness={ORDERS: None, PAYMENTS: SEEN},
        reason_contains={INT: "no measurable freshness or data version"},
    ),
    Case(
        "definition change of a table rebuilds it and everything reading its data",
        {FCT, TEST_FCT, TEST_REL},
        nodes=graph(**{FCT: replace(graph()[FCT], fingerprint="changed")}),
        reason_contains={FCT: "definition changed", TEST_FCT: "fct is built"},
    ),
    Case(
        "definition change of a view rebuilds the view and tables reading through it",
        {STG_PAYMENTS, INT, FCT, TEST_FCT, TEST_REL},
        nodes=graph(**{STG_PAYMENTS: replace(graph()[STG_PAYMENTS], fingerprint="new")}),
        reason_contains={INT: "upstream stg_payments is built in this run"},
    ),
    Case(
        "relation dropped by hand: rebuilt, and downstream data follows",
        {INT, FCT, TEST_FCT, TEST_REL},
        missing_relations={relation(INT)},
        reason_contains={INT: "does not exist"},
    ),
    Case(
        "missing view rebuilt, nothing downstream of a reused view's rebuild is skipped",
        {REPORT},
        missing_relations={relation(REPORT)},
    ),
    Case(
        "last run of a model failed: rebuilt",
        {FCT, TEST_FCT, TEST_REL},
        state_changes=with_record(FCT, status="error"),
        reason_contains={FCT: "status error"},
    ),
    Case(
        "record from another tool without our fingerprint: rebuilt",
        {FCT, TEST_FCT, TEST_REL},
        state_changes=with_record(FCT, fingerprint=None),
        reason_contains={FCT: "without a definition fingerprint"},
    ),
    Case(
        "record dated after the clock (beyond the skew allowance): not trusted, rebuilt",
        {TEST_FCT},
        state_changes=with_record(TEST_FCT, last_updated=NOW + HOUR),
        reason_contains={TEST_FCT: "not trusted"},
    ),
    Case(
        "record dated a little after the clock (within the skew allowance): trusted",
        set(),
        state_changes=with_record(TEST_FCT, last_updated=NOW + timedelta(minutes=4)),
    ),
    Case(
        "record dated at the end of time, with build_after and new data: rebuilt",
        {INT, TEST_REL, TEST_SRC},
        nodes=graph(**{FCT: replace(graph()[FCT], build_after=FCT_POLICY)}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        state_changes=with_record(INT, last_updated=datetime.max.replace(tzinfo=UTC)),
        reason_contains={INT: "9999-12-31 23:59:59"},
    ),
    Case(
        "build_after longer than the calendar: never passes",
        {TEST_SRC},
        nodes=graph(**{FCT: replace(graph()[FCT], build_after=BuildAfter(timedelta.max, "any"))}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        reason_contains={INT: "9999-12-31 23:59:59"},
    ),
    Case(
        "seed_state_orchestration off: the seed is built, nothing else",
        {SEED},
        options=PlanOptions(build_every_seed=True),
        reason_contains={SEED: "seed_state_orchestration"},
    ),
    Case(
        "state recorded for another target: rebuilt",
        {FCT, TEST_FCT, TEST_REL},
        state_changes=with_record(FCT, relation='"db"."other"."fct"'),
        reason_contains={FCT: "recorded for relation"},
    ),
    Case(
        "upstream rebuilt by another run after this one was built",
        {FCT, TEST_FCT, TEST_REL},
        state_changes=with_record(INT, last_updated=NOW - timedelta(minutes=5)),
        reason_contains={FCT: "was rebuilt at"},
    ),
    Case(
        "upstream recorded as built before the build this one read (a record of year 1)",
        {FCT, TEST_FCT, TEST_REL},
        state_changes=with_record(INT, last_updated=datetime.min.replace(tzinfo=UTC)),
        reason_contains={FCT: "recorded as built at 0001-01-01 00:00:00, not at"},
    ),
    Case(
        "upstream never built by orc: its data version is unknown",
        {FCT, TEST_FCT, TEST_REL},
        state_changes={INT: None},
        selected={FCT, TEST_FCT, TEST_REL},
        reason_contains={FCT: "no build recorded"},
    ),
    Case(
        "full refresh builds everything selected",
        ALL_MODELS | ALL_TESTS,
        options=PlanOptions(full_refresh=True, rebuild_reason="--full-refresh requested"),
    ),
    Case(
        "a backfill of one model builds it and its readers; the rest is planned as usual",
        {INT, FCT, TEST_FCT, TEST_REL},
        options=PlanOptions(forced={INT: "--event-time-start backfills"}),
        reason_contains={INT: "backfills", FCT: "upstream int_orders is built in this run"},
    ),
    Case(
        "selection boundary: unselected nodes get no decision, selected ones still reuse",
        {FCT, TEST_FCT},
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        selected={FCT, TEST_FCT},
        reason_contains={FCT: "upstream int_orders was rebuilt"},
        state_changes=with_record(INT, last_updated=NOW - timedelta(minutes=1)),
    ),
    Case(
        "views that keep their columns: a view over a rebuilt table is created again",
        {FCT, REPORT, TEST_FCT, TEST_REL},
        nodes=graph(**{FCT: replace(graph()[FCT], fingerprint="changed")}),
        options=PlanOptions(views_keep_their_columns=True),
        reason_contains={REPORT: "keeps the columns it was created with"},
    ),
    Case(
        "views that keep their columns: an incremental build under a view recreates it",
        {INT, FCT, REPORT, TEST_FCT, TEST_REL, TEST_SRC},
        nodes=graph(**{FCT: replace(graph()[FCT], materialized="incremental")}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        options=PlanOptions(views_keep_their_columns=True),
        reason_contains={REPORT: "upstream fct is built in this run"},
    ),
    Case(
        "late-binding views (DuckDB): a view over a rebuilt table is kept",
        {FCT, TEST_FCT, TEST_REL},
        nodes=graph(**{FCT: replace(graph()[FCT], fingerprint="changed")}),
    ),
    Case(
        "build_after window still open: upstream change tolerated (int inherits the policy)",
        {TEST_SRC},
        nodes=graph(**{FCT: replace(graph()[FCT], build_after=FCT_POLICY)}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        reason_contains={INT: "has not passed", FCT: "unchanged"},
    ),
    Case(
        "build_after window passed: upstream change builds",
        {INT, FCT, TEST_FCT, TEST_REL, TEST_SRC},
        nodes=graph(**{FCT: replace(graph()[FCT], build_after=BuildAfter(HOUR, "any"))}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
    ),
    Case(
        "build_after never delays a definition change",
        {FCT, TEST_FCT, TEST_REL},
        nodes=graph(**{FCT: replace(graph()[FCT], build_after=FCT_POLICY, fingerprint="changed")}),
    ),
    Case(
        "updates_on all: one of two upstreams changed, so reuse",
        {TEST_SRC},
        nodes=graph(**{INT: replace(graph()[INT], build_after=BuildAfter(HOUR, "all"))}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        reason_contains={INT: "updates_on: all"},
    ),
    Case(
        "updates_on all: every upstream changed, so build",
        {INT, FCT, TEST_FCT, TEST_REL, TEST_SRC},
        nodes=graph(**{INT: replace(graph()[INT], build_after=BuildAfter(HOUR, "all"))}),
        freshness={ORDERS: NEWER, PAYMENTS: NEWER},
    ),
    Case(
        "updates_on any: one upstream changed, so build",
        {INT, FCT, TEST_FCT, TEST_REL, TEST_SRC},
        nodes=graph(**{INT: replace(graph()[INT], build_after=BuildAfter(HOUR, "any"))}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
    ),
    Case(
        "inherited policy: int takes its only child's build_after",
        {TEST_SRC},
        nodes=graph(**{FCT: replace(graph()[FCT], build_after=FCT_POLICY)}),
        freshness={ORDERS: NEWER, PAYMENTS: SEEN},
        selected={INT, TEST_SRC},
        reason_contains={INT: "has not passed"},
    ),
    Case(
        "test that last warned runs again",
        {TEST_FCT},
        state_changes=with_record(TEST_FCT, status="warn"),
    ),
    Case(
        "changed test runs even though its parents are reused",
        {TEST_FCT},
        nodes=graph(**{TEST_FCT: replace(graph()[TEST_FCT], fingerprint="changed")}),
    ),
    Case(
        "new test runs",
        {TEST_FCT},
        state_changes={TEST_FCT: None},
    ),
    Case(
        "test spanning a built and a reused model runs",
        {FCT, TEST_FCT, TEST_REL},
        nodes=graph(**{FCT: replace(graph()[FCT], fingerprint="changed")}),
        selected={INT, FCT, TEST_FCT, TEST_REL},
        reason_contains={TEST_REL: "fct is built"},
    ),
]


HOOKED = "hook1:abc"  # a fingerprint the package's on-run-end hook recorded


def hooked_graph(hook_fingerprint: str | None) -> dict[str, Node]:
    return graph(**{FCT: replace(graph()[FCT], hook_fingerprint=hook_fingerprint)})


CASES += [
    Case(
        "hook record whose fingerprint orc recomputes equal: reused",
        set(),
        nodes=hooked_graph(HOOKED),
        state_changes=with_record(FCT, fingerprint=None, hook_fingerprint=HOOKED),
    ),
    Case(
        "hook record, definition changed since the hooked run: rebuilt",
        {FCT, TEST_FCT, TEST_REL},
        nodes=hooked_graph("hook1:other"),
        state_changes=with_record(FCT, fingerprint=None, hook_fingerprint=HOOKED),
        reason_contains={FCT: "definition changed since the hooked run"},
    ),
    Case(
        "hook record orc cannot vouch for (no hook fingerprint now): rebuilt",
        {FCT, TEST_FCT, TEST_REL},
        nodes=hooked_graph(None),
        state_changes=with_record(FCT, fingerprint=None, hook_fingerprint=HOOKED),
        reason_contains={FCT: "whose fingerprint cannot vouch for it"},
    ),
    Case(
        "orc's own fingerprint never matches a hook record, nor the reverse",
        {FCT, TEST_FCT, TEST_REL},
        nodes=hooked_graph(f"fp-{FCT}"),
        state_changes=with_record(FCT, fingerprint=None, hook_fingerprint=HOOKED),
    ),
    Case(
        "an orc record is checked against orc's fingerprint, not the hook's",
        set(),
        nodes=hooked_graph("hook1:anything"),
    ),
    Case(
        "hook record for another relation: rebuilt",
        {FCT, TEST_FCT, TEST_REL},
        nodes=hooked_graph(HOOKED),
        state_changes=with_record(
            FCT, fingerprint=None, hook_fingerprint=HOOKED, relation='"db"."other"."fct"'
        ),
        reason_contains={FCT: "state was recorded for relation"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_planner_rule(case: Case) -> None:
    state = good_state(graph())
    for uid, record in case.state_changes.items():
        if record is None:
            state.pop(uid, None)
        else:
            state[uid] = record
    existing = {
        relation(uid)
        for uid in case.nodes
        if case.nodes[uid].relation and relation(uid) not in case.missing_relations
    }
    selected = case.selected or {
        uid for uid, n in case.nodes.items() if n.resource_type != "source"
    }
    versions = {**versions_of(case.freshness), **case.table_versions}
    result = plan(case.nodes, selected, state, versions, existing, case.now, case.options)

    built = {uid for uid in result.ids("build")}
    assert built == case.expect_build, {d.unique_id: d.reason for d in result.decisions.values()}
    assert set(result.decisions) == selected
    for uid, fragment in case.reason_contains.items():
        assert fragment in result.decisions[uid].reason


def test_ephemeral_is_never_run() -> None:
    result = plan(graph(), {EPH}, {}, {}, set(), NOW)
    assert result.decisions[EPH].action == "reuse"


def test_unmeasured_sources_are_reported_once() -> None:
    nodes = graph()
    existing = {n.relation for n in nodes.values() if n.relation}
    result = plan(nodes, set(nodes) - {ORDERS, PAYMENTS}, good_state(nodes), {}, existing, NOW)
    assert result.unmeasured_sources == (ORDERS, PAYMENTS)


def test_sources_to_measure_looks_through_views_only() -> None:
    nodes = graph()
    assert sources_to_measure(nodes, {INT}) == {ORDERS, PAYMENTS}
    assert sources_to_measure(nodes, {FCT}) == set()
    assert sources_to_measure(nodes, {TEST_SRC}) == {ORDERS}


def test_inheritance_needs_a_policy_on_every_child() -> None:
    nodes = graph(
        **{
            FCT: replace(graph()[FCT], build_after=BuildAfter(6 * HOUR)),
            "model.p.other": Node("model.p.other", "model", "table", (INT,), "x", "fp"),
        }
    )
    assert INT not in effective_build_after(nodes)
    nodes["model.p.other"] = replace(nodes["model.p.other"], build_after=BuildAfter(2 * HOUR))
    assert effective_build_after(nodes)[INT] == BuildAfter(2 * HOUR, inherited_from="model.p.other")


def test_topological_order_puts_parents_first() -> None:
    order = topological_order(graph())
    assert order.index(ORDERS) < order.index(STG_ORDERS) < order.index(INT) < order.index(FCT)


UNIT = "unit_test.p.int_orders.adds_payments"


def unit_test_graph(fingerprint: str = f"fp-{UNIT}") -> dict[str, Node]:
    return graph(**{UNIT: Node(UNIT, "unit_test", None, (INT,), None, fingerprint)})


def unit_test_state(nodes: dict[str, Node]) -> dict[str, NodeRecord]:
    state = good_state(nodes)
    state[UNIT] = replace(state[UNIT], upstream={}, sources={})
    return state


@pytest.mark.parametrize(
    ("fingerprint", "run_with_model", "freshness", "expect_build"),
    [
        (f"fp-{UNIT}", True, {ORDERS: SEEN, PAYMENTS: SEEN}, set()),
        ("changed", True, {ORDERS: SEEN, PAYMENTS: SEEN}, {UNIT, INT}),
        ("changed", False, {ORDERS: SEEN, PAYMENTS: SEEN}, {UNIT}),
        (f"fp-{UNIT}", True, {ORDERS: NEWER, PAYMENTS: SEEN}, {UNIT, INT}),
    ],
    ids=[
        "unchanged unit test is skipped",
        "changed unit test under build forces its model",
        "changed unit test under test runs alone",
        "unit test runs when its model is built for new data",
    ],
)
def test_unit_tests(
    fingerprint: str,
    run_with_model: bool,
    freshness: dict[str, datetime | None],
    expect_build: set[str],
) -> None:
    nodes = unit_test_graph(fingerprint)
    state = unit_test_state(unit_test_graph())
    existing = {n.relation for n in nodes.values() if n.relation}
    options = PlanOptions(unit_tests_run_with_their_model=run_with_model)
    result = plan(nodes, {INT, UNIT}, state, versions_of(freshness), existing, NOW, options)
    assert set(result.ids("build")) == expect_build
    if INT in expect_build and fingerprint == "changed":
        assert "unit test" in result.decisions[INT].reason


# --- data versions: every signal the warehouse offers, field by field ---------------------

ROWS = {"rows": "10", "digest": "a" * 40}


def table_version(uid: str) -> dict[str, str]:
    return {"rows": "5", "digest": f"d-{uid}"}


def versioned_state(nodes: dict[str, Node]) -> dict[str, NodeRecord]:
    """A complete run on a warehouse that reports versions: ORDERS has no loaded_at at all,
    only rows and a digest; every table's own version was recorded after its build."""
    state = good_state(nodes)
    for uid, record in state.items():
        data_versions = dict(record.data_versions)
        if ORDERS in data_versions:
            data_versions[ORDERS] = dict(ROWS)
        state[uid] = replace(
            record,
            sources={s: None if s == ORDERS else t for s, t in record.sources.items()},
            data_versions=data_versions,
            version=table_version(uid) if holds_data(nodes[uid]) else None,
        )
    return state


def observed_versions(nodes: dict[str, Node], **changes: dict[str, str]) -> dict[str, DataVersion]:
    versions: dict[str, DataVersion] = {ORDERS: dict(ROWS), PAYMENTS: source_version(SEEN, {})}
    versions.update({uid: table_version(uid) for uid, n in nodes.items() if holds_data(n)})
    versions.update({key.replace("__", "."): value for key, value in changes.items()})
    return versions


DOWNSTREAM_OF_ORDERS = {INT, FCT, TEST_FCT, TEST_REL, TEST_SRC}


@pytest.mark.parametrize(
    ("observed", "record_changes", "selected", "expect_build", "reason"),
    [
        ({}, {}, None, set(), (FCT, "unchanged")),
        (
            {"source__p__raw__orders": {**ROWS, "digest": "b" * 40}},
            {},
            None,
            DOWNSTREAM_OF_ORDERS,
            (INT, "source raw.orders changed since this was built: digest moved"),
        ),
        (
            {"source__p__raw__orders": {**ROWS, "rows": "9"}},
            {},
            None,
            DOWNSTREAM_OF_ORDERS,
            (INT, "rows 10 -> 9"),
        ),
        (
            {"source__p__raw__orders": {"rows": "10"}},
            {},
            None,
            DOWNSTREAM_OF_ORDERS,
            (INT, "digest disappeared"),
        ),
        (
            {"model__p__fct": {"rows": "6", "digest": f"d-{FCT}"}},
            {},
            None,
            {FCT, TEST_FCT, TEST_REL},
            (FCT, "its table changed outside orc since its build at"),
        ),
        (
            {"model__p__fct": {}},
            {},
            None,
            {FCT, TEST_FCT, TEST_REL},
            (FCT, "cannot be measured now"),
        ),
        (
            {},
            {FCT: {"version": None}},
            None,
            {FCT, TEST_FCT, TEST_REL},
            (FCT, "recorded without a data version of its table"),
        ),
        (
            {"model__p__int_orders": {"rows": "7", "digest": "x"}},
            {},
            {FCT},
            {FCT},
            (FCT, "upstream int_orders: its table changed outside orc"),
        ),
        (
            {"seed__p__statuses": {"rows": "7", "digest": "x"}},
            {},
            None,
            {SEED},
            (SEED, "changed outside orc"),
        ),
        (
            {},
            {FCT: {"version": {}}},
            None,
            set(),
            (FCT, "unchanged"),
        ),
    ],
    ids=[
        "every version as recorded: reused, a source without loaded_at included",
        "rows updated in a source, no newer loaded_at: its readers rebuilt",
        "rows deleted from a source: its readers rebuilt",
        "a field the source reported disappeared: changed",
        "a table orc built was changed outside orc: rebuilt",
        "a table orc built cannot be measured now: rebuilt",
        "a record without the version of its table (older orc): rebuilt",
        "an unselected upstream table changed outside orc: its selected reader rebuilt",
        "a seed's table changed outside orc: rebuilt",
        "a table whose warehouse reports no version (empty) is judged as before",
    ],
)
def test_data_versions(
    observed: dict[str, dict[str, str]],
    record_changes: dict[str, dict[str, object]],
    selected: set[str] | None,
    expect_build: set[str],
    reason: tuple[str, str],
) -> None:
    nodes = graph()
    state = versioned_state(nodes)
    for uid, changes in record_changes.items():
        state[uid] = replace(state[uid], **changes)  # type: ignore[arg-type]
    existing = {n.relation for n in nodes.values() if n.relation}
    chosen = selected or {uid for uid, n in nodes.items() if n.resource_type != "source"}
    result = plan(nodes, chosen, state, observed_versions(nodes, **observed), existing, NOW)
    assert set(result.ids("build")) == expect_build, {
        d.unique_id: d.reason for d in result.decisions.values()
    }
    uid, fragment = reason
    assert fragment in result.decisions[uid].reason


def test_a_new_way_of_measuring_is_named_as_such_in_one_line() -> None:
    """Adding the package to a project that ran without it (or updating it) may change which
    fields a version holds: its readers are rebuilt once, and the reason says why."""
    nodes = graph()
    state = versioned_state(nodes)
    observed = observed_versions(nodes, source__p__raw__orders={**ROWS, "max_id": "7"})
    everything = {uid for uid, n in nodes.items() if n.resource_type != "source"}
    existing = {n.relation for n in nodes.values() if n.relation}
    result = plan(nodes, everything, state, observed, existing, NOW)
    assert set(result.ids("build")) == DOWNSTREAM_OF_ORDERS
    assert result.decisions[INT].reason == (
        "source raw.orders changed since this was built: measured another way since "
        "(max_id appeared): the orchestra_dbt package was added, updated or overridden, or a "
        "loaded_at setting changed; built once to record the new measurement"
    )
    assert "\n" not in result.decisions[INT].reason


def test_a_moved_digest_is_named_without_its_values() -> None:
    from orchestra_dbt_py.core.versions import describe_change

    change = describe_change(
        {"digest": "153881789386226748458", "rows": "15", "loaded_at": "2026-11-30T01:00:00Z"},
        {"digest": "206491926172896161018", "rows": "20", "loaded_at": "2026-11-30T01:00:00Z"},
    )
    assert change == "digest moved, rows 15 -> 20"
    assert describe_change({"columns_digest": "ab"}, {"columns_digest": "cd"}) == (
        "columns_digest moved"
    )
