"""Where a run's time goes: the seconds of each phase (parse, selection, fingerprints,
measuring, planning, dbt's build...), kept by one recorder that the run passes along and
that `target/orc_plan.json` lists as `phases`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Phases"]


@dataclass
class Phases:
    """Seconds by phase, in the order the phases first ran. A phase that runs again (a plan
    made again after waiting for another run) adds to its seconds and counts its runs."""

    clock: Callable[[], float] = time.perf_counter
    _seconds: dict[str, float] = field(default_factory=dict)
    _runs: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Time the block as phase `name`, whether it returns or raises."""
        started = self.clock()
        try:
            yield
        finally:
            self._seconds[name] = self._seconds.get(name, 0.0) + self.clock() - started
            self._runs[name] = self._runs.get(name, 0) + 1

    def seconds(self, name: str) -> float:
        return self._seconds.get(name, 0.0)

    def document(self) -> list[dict[str, Any]]:
        """The phases as the plan document lists them."""
        return [
            {"phase": name, "seconds": round(seconds, 3), "runs": self._runs[name]}
            for name, seconds in self._seconds.items()
        ]
