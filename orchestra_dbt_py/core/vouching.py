"""Whether a node's state record can vouch for it: the record exists, is not from the
future, ended well, and describes the definition and relation this run would build."""

from __future__ import annotations

from datetime import datetime

from orchestra_dbt_py.core.change_words import definition_changed
from orchestra_dbt_py.core.finished import describe_outcome
from orchestra_dbt_py.core.graph import RELATION_TYPES, Node, describe_moment
from orchestra_dbt_py.core.records import NodeRecord, is_future_dated

__all__ = ["record_problem"]

_fmt = describe_moment


def record_problem(node: Node, record: NodeRecord | None, now: datetime) -> str | None:
    """Why the state record cannot vouch for this node, if it cannot."""
    if record is None:
        return "no build recorded" if node.resource_type in RELATION_TYPES else "no run recorded"
    if is_future_dated(record, now):
        return (
            f"its record is dated {_fmt(record.last_updated)}, after this machine's clock "
            f"({_fmt(now)}): a record from the future (a clock ahead, or an edited state) "
            "is not trusted"
        )
    outcome = describe_outcome(node, record)
    if outcome is not None:
        return outcome
    if record.fingerprint is None and record.hook_fingerprint is None:
        return "recorded without a definition fingerprint (by another tool or an older orc)"
    if node.resource_type in RELATION_TYPES and record.relation != node.relation:
        return f"state was recorded for relation {record.relation}; this run builds {node.relation}"
    if record.hook_fingerprint is not None:
        if node.hook_fingerprint is None:
            return (
                "recorded by the orchestra_dbt hook, whose fingerprint cannot vouch for it "
                "(a package node, a large seed, or one reading vars, env vars or target "
                "fields by computed names)"
            )
        if record.hook_fingerprint != node.hook_fingerprint:
            return "definition changed since the hooked run (code, config, macros or vars)"
        return None
    if record.fingerprint != node.fingerprint:
        return definition_changed(record.definition, node.definition)
    return None
