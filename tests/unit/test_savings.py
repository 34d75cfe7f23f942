"""The time reuse saved is an estimate of wall-clock time under the run's threads: the
reused nodes' critical path, never less than their total time spread over the threads."""

from __future__ import annotations

import pytest

from orchestra_dbt_py.core.savings import wall_time_estimate

# a -> b -> d, a -> c -> d, e alone; x is not reused and sits between c and f.
PARENTS = {"b": ("a",), "c": ("a",), "d": ("b", "c"), "x": ("c",), "f": ("x",)}


@pytest.mark.parametrize(
    ("seconds", "threads", "expected"),
    [
        ({}, 4, 0.0),
        ({"a": 2.0}, 4, 2.0),
        # A chain runs one node at a time whatever the threads.
        ({"a": 1.0, "b": 2.0, "d": 3.0}, 8, 6.0),
        # The longest of two branches: a, c, d (1 + 5 + 1), not the sum of all four (9).
        ({"a": 1.0, "b": 2.0, "c": 5.0, "d": 1.0}, 8, 7.0),
        # Independent nodes overlap: the longest one, unless threads are too few for them.
        ({"a": 1.0, "e": 4.0}, 8, 4.0),
        ({"e": 1.0, "g": 1.0, "h": 1.0, "i": 1.0}, 2, 2.0),
        ({"e": 1.0, "g": 1.0, "h": 1.0, "i": 1.0}, 1, 4.0),
        # A node that is not reused costs nothing but still orders its parents before it.
        ({"c": 2.0, "f": 3.0}, 8, 5.0),
    ],
)
def test_wall_time_is_the_critical_path_bounded_by_total_over_threads(
    seconds: dict[str, float], threads: int, expected: float
) -> None:
    assert wall_time_estimate(seconds, PARENTS, threads) == pytest.approx(expected)


def test_a_deep_chain_does_not_recurse() -> None:
    depth = 5000
    parents = {f"n{i}": (f"n{i - 1}",) for i in range(1, depth)}
    seconds = {f"n{i}": 0.5 for i in range(depth)}
    assert wall_time_estimate(seconds, parents, 4) == pytest.approx(depth * 0.5)


def test_the_estimate_never_exceeds_the_sum_of_node_times() -> None:
    seconds = {"a": 1.0, "b": 2.0, "c": 5.0, "d": 1.0, "e": 4.0}
    assert wall_time_estimate(seconds, PARENTS, 1) == pytest.approx(sum(seconds.values()))
    assert wall_time_estimate(seconds, PARENTS, 3) < sum(seconds.values())
