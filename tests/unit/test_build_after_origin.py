"""A model without its own build_after takes the strictest of its children's: the reason it
is held back names the model that declares that policy."""

from __future__ import annotations

from dataclasses import replace

from orchestra_dbt_py.core.graph import BuildAfter, Node, effective_build_after
from orchestra_dbt_py.core.planner import plan
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
    SEEN,
    STG_ORDERS,
    STG_PAYMENTS,
    good_state,
    graph,
    relation,
    versions_of,
)

OTHER = "model.p.other"  # a second table reading int_orders


def with_policies(**policies: BuildAfter) -> dict[str, Node]:
    nodes = graph()
    nodes[OTHER] = Node(OTHER, "model", "table", (INT,), relation(OTHER), "fp-other")
    for uid, policy in policies.items():
        nodes[uid] = replace(nodes[uid], build_after=policy)
    return nodes


def test_an_inherited_policy_names_the_model_that_declares_it() -> None:
    nodes = with_policies(**{REPORT: BuildAfter(4 * HOUR), OTHER: BuildAfter(6 * HOUR)})
    policies = effective_build_after(nodes)
    assert policies[REPORT] == BuildAfter(4 * HOUR)  # its own
    assert policies[FCT] == BuildAfter(4 * HOUR, inherited_from=REPORT)
    # Through fct, from report (stricter than other's), however far upstream.
    for uid in (INT, EPH, STG_ORDERS, STG_PAYMENTS):
        assert policies[uid] == BuildAfter(4 * HOUR, inherited_from=REPORT), uid


def test_equally_strict_children_name_the_first_by_unique_id() -> None:
    nodes = with_policies(**{FCT: BuildAfter(2 * HOUR), OTHER: BuildAfter(2 * HOUR)})
    assert effective_build_after(nodes)[INT].inherited_from == FCT
    nodes = {uid: nodes[uid] for uid in reversed(list(nodes))}
    assert effective_build_after(nodes)[INT].inherited_from == FCT


def reasons(nodes: dict[str, Node]) -> dict[str, str]:
    """The reason of each model, with new data in orders."""
    existing = {relation(uid) for uid, n in nodes.items() if n.relation}
    models = {uid for uid, n in nodes.items() if n.resource_type == "model"}
    state = good_state(nodes)
    versions = versions_of({ORDERS: NEWER, PAYMENTS: SEEN})
    result = plan(nodes, models, state, versions, existing, NOW)
    return {uid: f"{d.action}: {d.reason}" for uid, d in result.decisions.items()}


def test_the_reason_names_the_child_whose_policy_holds_a_model_back() -> None:
    held = reasons(with_policies(**{FCT: BuildAfter(4 * HOUR), OTHER: BuildAfter(6 * HOUR)}))
    assert held[INT].startswith("reuse: source raw.orders has data from")
    assert (
        "but build_after 4 hours (inherited from its child fct) has not passed since" in held[INT]
    )


def test_the_reason_names_a_policy_declared_further_downstream() -> None:
    held = reasons(with_policies(**{REPORT: BuildAfter(4 * HOUR), OTHER: BuildAfter(6 * HOUR)}))
    assert "build_after 4 hours (inherited from report, downstream of it) has not" in held[INT]


def test_a_models_own_policy_is_not_called_inherited() -> None:
    held = reasons(with_policies(**{INT: BuildAfter(4 * HOUR)}))
    assert "but build_after 4 hours has not passed since its build" in held[INT]


def test_updates_on_all_names_where_the_policy_comes_from() -> None:
    policy = BuildAfter(HOUR, "all")
    held = reasons(with_policies(**{FCT: policy, OTHER: policy}))
    assert held[INT].startswith(
        "reuse: build_after (inherited from its child fct) waits for new data in all upstreams"
    )
