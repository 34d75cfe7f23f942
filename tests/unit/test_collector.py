"""How an orc process uses the garbage collector around dbt's parse and build."""

from __future__ import annotations

import gc

import pytest

from orchestra_dbt_py.collector import (
    YOUNG_COLLECTION_EVERY,
    collect_less_often,
    out_of_the_collectors_sight,
)


def test_what_exists_before_the_build_is_out_of_the_collectors_sight_until_it_ends() -> None:
    before = gc.get_freeze_count()
    kept = [object() for _ in range(10)]
    with out_of_the_collectors_sight():
        assert gc.get_freeze_count() >= before + len(kept)
    assert gc.get_freeze_count() == before == 0
    with pytest.raises(KeyboardInterrupt), out_of_the_collectors_sight():
        raise KeyboardInterrupt  # a stopped build leaves nothing frozen either
    assert gc.get_freeze_count() == 0


def test_young_collections_come_less_often_and_the_older_ratios_stay() -> None:
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        collect_less_often()
        assert gc.get_threshold() == (YOUNG_COLLECTION_EVERY, 10, 10)
        gc.set_threshold(50_000, 10, 10)  # never lowered where it was set higher
        collect_less_often()
        assert gc.get_threshold() == (50_000, 10, 10)
    finally:
        gc.set_threshold(*before)
