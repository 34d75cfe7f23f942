"""What a stateful build does around dbt's own build, without dbt."""

from __future__ import annotations

import gc

import pytest

from orchestra_dbt_py.building import out_of_the_collectors_sight


def test_what_exists_before_the_build_is_out_of_the_collectors_sight_until_it_ends() -> None:
    before = gc.get_freeze_count()
    kept = [object() for _ in range(10)]
    with out_of_the_collectors_sight():
        assert gc.get_freeze_count() >= before + len(kept)
    assert gc.get_freeze_count() == before == 0
    with pytest.raises(KeyboardInterrupt), out_of_the_collectors_sight():
        raise KeyboardInterrupt  # a stopped build leaves nothing frozen either
    assert gc.get_freeze_count() == 0
