"""The record a finished node leaves in the state (the dbt package's `record_run` hook
builds the same shape; tests/unit/test_hook_spec.py keeps the two in step)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from orchestra_dbt_py.core.graph import (
    RELATION_TYPES,
    TEST_RESULT_STATUSES,
    TEST_TYPES,
    Node,
    data_inputs,
    holds_data,
)
from orchestra_dbt_py.core.records import NodeRecord
from orchestra_dbt_py.core.versions import DataVersion, loaded_at


def finished_record(
    nodes: Mapping[str, Node],
    uid: str,
    status: str,
    execution_time: float,
    *,
    known: Mapping[str, NodeRecord],
    versions: Mapping[str, DataVersion],
    checksum: str | None,
    now: datetime,
) -> NodeRecord | None:
    """The record for a node dbt finished with `status`; None to forget it, so that the next
    run builds it (a failed build, or an error before a test could give its result).

    `known` holds the records of the other nodes as they stand now (keyed by unique id), so
    the record names the builds of its upstream models it read; `versions` the data versions
    of the sources observed before the run. The version of the node's own table is measured
    after the run; until then it is empty, which the planner reads as "no signal": a table
    built by a run that was killed before it measured is reused when the next run resumes
    (durability), without the check for changes made outside orc until its next build.
    """
    node = nodes[uid]
    succeeded = (node.resource_type in RELATION_TYPES and status == "success") or (
        node.resource_type in TEST_TYPES and status in TEST_RESULT_STATUSES
    )
    if not succeeded:
        return None
    inputs = data_inputs(nodes, uid)
    sources = [i for i in inputs if nodes[i].resource_type == "source"]
    return NodeRecord(
        last_updated=now,
        checksum=checksum,
        sources={i: loaded_at(versions.get(i, {})) for i in sources},
        data_versions={i: versions[i] for i in sources if versions.get(i)},
        fingerprint=node.fingerprint,
        definition=node.definition,
        relation=node.relation,
        upstream={
            i: known[i].last_updated
            for i in inputs
            if nodes[i].resource_type != "source" and i in known
        },
        status=status,
        execution_time=execution_time,
        version={} if holds_data(node) else None,
    )
