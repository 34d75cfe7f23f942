"""dbt's `run_results.json` as a stateful run leaves it: what dbt ran, plus every node orc
reused, so that artifact consumers (dbt_artifacts, elementary, uploaders) see the whole
selection, also when dbt did not run at all."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestra_dbt_py.artifacts import replace_file

__all__ = [
    "CLONED_MESSAGE",
    "REUSED_MESSAGE",
    "RUN_RESULTS",
    "add_reused_results",
    "results_since",
    "reused_status",
]

RUN_RESULTS = "run_results.json"
# How the messages of the results orc adds start (dbt-core before 1.12 calls a reused node
# skipped: `orc dbt retry` tells them apart by these).
REUSED_MESSAGE = "reused by orc: "
CLONED_MESSAGE = "cloned by orc from "
_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json"


def reused_status() -> str:
    """dbt-core 1.12 has a `reused` node status; older releases report such nodes skipped."""
    from dbt.artifacts.schemas.results import NodeStatus

    return "reused" if "reused" in {status.value for status in NodeStatus} else "skipped"


def add_reused_results(
    target_dir: Path,
    messages: Mapping[str, str],
    relations: Mapping[str, str | None],
    started_at: datetime,
    invocation: Mapping[str, Any],
    earlier: Sequence[Mapping[str, Any]] = (),
) -> Path:
    """Add a result for each node orc reused or cloned (unique id -> orc's message:
    `reused by orc: <reason>`, `cloned by orc from <relation>: <reason>`) to the
    run_results.json dbt wrote in this run, or write one with only those when dbt did not
    run (a file older than `started_at` is a previous run's and is replaced). `invocation`
    becomes the `args` of a new file. `earlier` holds the results of this run's earlier dbt
    invocations (it waited for another run between them); those the file lacks are added."""
    path = target_dir / RUN_RESULTS
    document = _written_since(path, started_at)
    if document is None:
        now = datetime.now(UTC)
        document = {
            "metadata": {
                "dbt_schema_version": _SCHEMA,
                "dbt_version": _dbt_version(),
                "generated_at": _iso(now),
                "invocation_id": _invocation_id(),
                "invocation_started_at": _iso(started_at),
                "env": {},
            },
            "results": [],
            "elapsed_time": (now - started_at).total_seconds(),
            "args": dict(invocation),
        }
    listed = {result.get("unique_id") for result in document["results"]}
    for result in earlier:
        if result.get("unique_id") not in listed:
            document["results"].append(dict(result))
            listed.add(result.get("unique_id"))
    status = reused_status()
    for uid in sorted(messages.keys() - listed):
        document["results"].append(
            {
                "status": status,
                "timing": [],
                "thread_id": "orc",
                "execution_time": 0.0,
                "adapter_response": {},
                "message": messages[uid],
                "failures": None,
                "unique_id": uid,
                "compiled": None,
                "compiled_code": None,
                "relation_name": relations.get(uid),
                "batch_results": None,
            }
        )
    return replace_file(path, json.dumps(document, indent=2))


def results_since(target_dir: Path, started_at: datetime) -> list[dict[str, Any]]:
    """The results of the run_results.json dbt wrote after `started_at` (none if it did not)."""
    document = _written_since(target_dir / RUN_RESULTS, started_at)
    return [] if document is None else list(document["results"])


def _written_since(path: Path, started_at: datetime) -> dict[str, Any] | None:
    try:
        if path.stat().st_mtime < started_at.timestamp():
            return None
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    results = document.get("results") if isinstance(document, dict) else None
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        return None
    return document


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _dbt_version() -> str:
    from dbt.version import __version__

    return str(__version__)


def _invocation_id() -> str:
    from dbt_common.invocation import get_invocation_id

    return str(get_invocation_id())
