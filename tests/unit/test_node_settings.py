"""A node's settings under dbt State's names (`state:`) or ours (`meta.orchestra_dbt`, and
`freshness.build_after`), as `plain_nodes` reads them into the core's nodes."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from orchestra_dbt_py.core.graph import BuildAfter, Node
from orchestra_dbt_py.dbt.graph import plain_nodes
from orchestra_dbt_py.errors import OrcError

pytestmark = pytest.mark.compat

UID = "model.p.orders"


class _Config(dict[str, Any]):
    """dbt's node config: known keys as attributes, the others through `get`."""

    @property
    def materialized(self) -> Any:
        return self.get("materialized", "incremental")

    @property
    def freshness(self) -> Any:
        return self.get("freshness")


def _node(meta: dict[str, Any] | None = None, **config: Any) -> Node:
    model = SimpleNamespace(
        resource_type="model",
        name="orders",
        config=_Config(config),
        meta=meta or {},
        depends_on=SimpleNamespace(nodes=[]),
        relation_name='"db"."main"."orders"',
    )
    manifest: Any = SimpleNamespace(sources={}, nodes={UID: model}, unit_tests={})
    return plain_nodes(manifest, {})[UID]


def _ours(count: int, period: str, updates_on: str = "any") -> Any:
    return SimpleNamespace(
        build_after=SimpleNamespace(
            count=count, period=period, updates_on=SimpleNamespace(value=updates_on)
        )
    )


# -- pre_clone ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "meta", "expected"),
    [
        ({}, {}, "if_missing"),
        ({"state": {"pre_clone": "always"}}, {}, "always"),
        ({}, {"orchestra_dbt": {"pre_clone": "never"}}, "never"),
        (
            {"state": {"pre_clone": "never"}},
            {"orchestra_dbt": {"pre_clone": "never"}},
            "never",
        ),
    ],
)
def test_pre_clone_is_read_from_either_place(
    config: dict[str, Any], meta: dict[str, Any], expected: str
) -> None:
    assert _node(meta, **config).pre_clone == expected


@pytest.mark.parametrize(
    ("config", "meta", "message"),
    [
        (
            {"state": {"pre_clone": "sometimes"}},
            {},
            "model orders sets state.pre_clone to 'sometimes': "
            "set it to never or if_missing or always",
        ),
        (
            {},
            {"orchestra_dbt": {"pre_clone": True}},
            "model orders sets meta.orchestra_dbt.pre_clone to True: "
            "set it to never or if_missing or always",
        ),
        (
            {"state": {"pre_clone": "always"}},
            {"orchestra_dbt": {"pre_clone": "never"}},
            "model orders sets state.pre_clone to 'always' and meta.orchestra_dbt.pre_clone "
            "to 'never': keep one of them",
        ),
    ],
)
def test_a_wrong_pre_clone_is_one_line_naming_the_model(
    config: dict[str, Any], meta: dict[str, Any], message: str
) -> None:
    with pytest.raises(OrcError) as raised:
        _node(meta, **config)
    assert str(raised.value) == message


# -- lag_tolerance and require_fresh_data_from ---------------------------------------------


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"lag_tolerance": "45m"}, BuildAfter(timedelta(minutes=45))),
        ({"lag_tolerance": "4h"}, BuildAfter(timedelta(hours=4))),
        ({"lag_tolerance": " 7 d "}, BuildAfter(timedelta(days=7))),
        (
            {"lag_tolerance": "2h", "require_fresh_data_from": "all"},
            BuildAfter(timedelta(hours=2), "all"),
        ),
        ({"lag_tolerance": "2h", "require_fresh_data_from": "any"}, BuildAfter(timedelta(hours=2))),
        # Without a window: wait for every upstream, or no policy at all.
        ({"require_fresh_data_from": "all"}, BuildAfter(timedelta(0), "all")),
        ({"require_fresh_data_from": "any"}, None),
        ({"lag_tolerance": "0m"}, None),
        ({}, None),
    ],
)
def test_dbt_states_names_are_our_build_after(
    state: dict[str, Any], expected: BuildAfter | None
) -> None:
    assert _node(state=state).build_after == expected
    assert _node({"orchestra_dbt": state}).build_after == expected


def test_our_build_after_wins_over_dbt_states() -> None:
    node = _node(
        freshness=_ours(6, "hour"),
        state={"lag_tolerance": "1d", "require_fresh_data_from": "all"},
    )
    assert node.build_after == BuildAfter(timedelta(hours=6), "any")


@pytest.mark.parametrize("value", ["1 day", "4 hours", "1.5h", "4H", "90s", "-1h", "", 4])
def test_a_lag_tolerance_that_is_not_a_number_and_m_h_or_d_is_one_line(value: Any) -> None:
    with pytest.raises(OrcError) as raised:
        _node(state={"lag_tolerance": value})
    assert str(raised.value) == (
        f"model orders sets state.lag_tolerance to {value!r}: "
        "write a whole number and m, h or d, like 45m, 4h or 7d"
    )


def test_a_wrong_require_fresh_data_from_is_one_line() -> None:
    with pytest.raises(OrcError, match=r"^model orders sets state.require_fresh_data_from to "):
        _node(state={"require_fresh_data_from": "most"})
