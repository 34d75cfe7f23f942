"""How much wall-clock time reusing nodes saved: an estimate from the times their last builds
took, as if they had run again under the run's threads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def wall_time_estimate(
    seconds: Mapping[str, float],
    parents: Mapping[str, Sequence[str]],
    threads: int,
) -> float:
    """The wall-clock seconds the nodes in `seconds` would take if run again with `threads`
    threads: their critical path (the longest chain of recorded times along dependencies,
    through nodes outside `seconds` at no cost), and never less than their total time spread
    evenly over the threads. `parents` may hold nodes outside `seconds` (the whole graph)."""
    finish: dict[str, float] = {}
    for uid in seconds:
        # Post-order walk without recursion: a deep graph must not hit the recursion limit.
        stack, walking = [uid], set()
        while stack:
            current = stack[-1]
            if current in finish:
                stack.pop()
                continue
            pending = [p for p in parents.get(current, ()) if p not in finish and p not in walking]
            if current not in walking and pending:
                walking.add(current)
                stack.extend(pending)
                continue
            start = max((finish.get(p, 0.0) for p in parents.get(current, ())), default=0.0)
            finish[current] = start + seconds.get(current, 0.0)
            walking.discard(current)
            stack.pop()
    critical = max((finish[uid] for uid in seconds), default=0.0)
    return max(critical, sum(seconds.values()) / max(1, threads))
