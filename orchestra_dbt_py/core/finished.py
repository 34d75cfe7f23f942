"""The record a finished node leaves in the state (the dbt package's `record_run` hook
builds the same shape; tests/unit/test_hook_spec.py keeps the two in step), and how the next
run tells a build that did not pass."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from orchestra_dbt_py.core.graph import (
    RELATION_TYPES,
    TEST_RESULT_STATUSES,
    TEST_TYPES,
    Node,
    data_inputs,
    describe_moment,
    holds_data,
    named_relations,
    outcome_of,
)
from orchestra_dbt_py.core.implicit import SqlInputs
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
    sql_inputs: SqlInputs | None = None,
    deferred_reads: Mapping[str, str] = MappingProxyType({}),
) -> NodeRecord | None:
    """The record for a node dbt finished with `status`; None for a node orc does not track.

    A build that did not succeed (an error, a test that errored before giving its result, a
    node dbt skipped) leaves only its outcome: `status`, the time and the relation, with no
    fingerprint, checksum or version, so that nothing (orc, or dbt-orchestra comparing the
    checksum) reuses it, and the next run can say why it builds. Being the newest record of
    the node, it replaces the last good one in every merge: its table may be half-written.

    `known` holds the records of the other nodes as they stand now (keyed by unique id), so
    the record names the builds of its upstream models it read; `versions` the data versions
    of the sources observed before the run, and of what `sql_inputs` (the inputs found in
    the node's compiled SQL at plan time, None where they are not known) names. The version
    of the node's own table is measured after the run; until then it is empty, which the
    planner reads as "no signal": a table built by a run that was killed before it measured
    is reused when the next run resumes (durability), without the check for changes made
    outside orc until its next build. A view's record names the relations its SQL named
    (`graph.named_relations`; `deferred_reads`: the parents this run read from the target
    it defers to, unique id: relation).
    """
    node = nodes[uid]
    succeeded = (node.resource_type in RELATION_TYPES and status == "success") or (
        node.resource_type in TEST_TYPES and status in TEST_RESULT_STATUSES
    )
    if not succeeded:
        if node.resource_type not in RELATION_TYPES | TEST_TYPES:
            return None
        return NodeRecord(
            last_updated=now, relation=node.relation, status=status, execution_time=execution_time
        )
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
        reads=None
        if sql_inputs is None or sql_inputs.unreadable is not None
        else {i.key: versions.get(i.key, {}) for i in sql_inputs.inputs},
        parent_relations=named_relations(nodes, uid, deferred_reads)
        if node.materialized == "view"
        else None,
    )


def describe_outcome(node: Node, record: NodeRecord) -> str | None:
    """How the build (or a test's run) that left `record` ended, when it did not pass."""
    outcome = outcome_of(record.status)
    if outcome == "passed":
        return None
    what = "build" if node.resource_type in RELATION_TYPES else "run"
    at = describe_moment(record.last_updated)
    if outcome == "skipped":
        return f"its last {what} was skipped at {at} (after a failure upstream, or a stopped run)"
    if record.status == "error" and what == "run":
        return f"its last run errored before giving a result (at {at})"
    if outcome == "failed":
        return f"its last {what} failed (status {record.status} at {at})"
    return f"its last {what} ended with status {record.status} at {at}"
