"""The state key rule: which keys a node's record is kept under, which of them a target
reads, and which keys belong to this run's account. The dbt package's hooks follow the same
rule (`orchestra_dbt._state_keys`, `_state_entries`); tests/unit/test_hook_spec.py keeps the
two in step.

Several dbt targets share one state: a node's record is kept under `<unique id>@<relation>`
(nodes without a relation, such as tests, use the target's default location,
`"database"."schema"`), so targets that build into different places keep their own records.
Beside it, the plain `<unique id>` key holds a slim mirror of the newest record of any
target (dbt-orchestra's fields, the relation and the target), which dbt-orchestra and older
`orc` releases read; `orc` never reuses a mirror, which holds no fingerprint."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TypeVar

from orchestra_dbt_py.core.graph import Node
from orchestra_dbt_py.core.records import NodeRecord

__all__ = ["KeyScope"]

T = TypeVar("T")


@dataclass(frozen=True)
class KeyScope:
    """The keys of one target's records. For a shared integration account
    (`integration_account_id` set, `local_run` off) keys are `<account>.<relation>`
    (`<account>.<unique id>` for nodes without a relation), with no mirror, and only keys
    with that prefix are this run's. `target` is the dbt target's name, stamped on the
    records this run writes; `location` its default `"database"."schema"`, rendered as the
    adapter quotes relations (None: unknown, keys of nodes without a relation stay plain)."""

    account: str | None = None
    target: str | None = None
    location: str | None = None

    @classmethod
    def of(
        cls,
        integration_account_id: str | None,
        local_run: bool,
        target: str | None = None,
        location: str | None = None,
    ) -> KeyScope:
        account = integration_account_id if integration_account_id and not local_run else None
        return cls(account, target, location)

    @property
    def prefix(self) -> str | None:
        return None if self.account is None else f"{self.account}."

    def key(self, node: Node) -> str:
        """The key of the node's full record in this target."""
        if self.account is not None:
            return f"{self.account}.{node.relation or node.unique_id}"
        where = node.relation or self.location
        return node.unique_id if where is None else f"{node.unique_id}@{where}"

    def keys(self, node: Node) -> list[str]:
        """Every key a record of this run for the node is kept under: the full record's,
        then the mirror's (removed together: a legacy full record under the plain key
        would otherwise be read as the node's)."""
        key = self.key(node)
        return [key] if self.account is not None or key == node.unique_id else [key, node.unique_id]

    def entries(self, node: Node, record: NodeRecord) -> dict[str, NodeRecord]:
        """The items this run writes for the node's record: the record, stamped with this
        target, under its key, and its mirror under the plain key."""
        full = replace(record, target=self.target)
        key, *plain = self.keys(node)
        return {key: full, **{other: mirror_of(full) for other in plain}}

    def owns(self, key: str) -> bool:
        return self.account is None or key.startswith(f"{self.account}.")

    def within(self, items: Mapping[str, T]) -> dict[str, T]:
        """The entries of `items` whose keys are this scope's."""
        return {key: value for key, value in items.items() if self.owns(key)}

    def keys_within(self, keys: Iterable[str]) -> list[str]:
        return [key for key in keys if self.owns(key)]

    def records_of(
        self, nodes: Mapping[str, Node], stored: Mapping[str, NodeRecord]
    ) -> dict[str, NodeRecord]:
        """This target's records of `nodes`, keyed by unique id: the newer of the record
        under the node's key and a legacy full record under the plain key (written before
        records were kept per target: no `target`) whose relation is the node's."""
        found: dict[str, NodeRecord] = {}
        for uid, node in nodes.items():
            own = stored.get(self.key(node))
            legacy = self._legacy(node, stored)
            if legacy is not None and (own is None or legacy.last_updated > own.last_updated):
                own = legacy
            if own is not None:
                found[uid] = own
        return found

    def own_keys(self, node: Node, stored: Mapping[str, NodeRecord]) -> list[str]:
        """The stored keys holding this target's records of the node (what `orc state
        forget` drops): its key, and the plain key when that holds this target's mirror or
        a record written before records were kept per target."""
        key, *plain = self.keys(node)
        found = [key] if key in stored else []
        for other in plain:
            record = stored.get(other)
            if record is not None and record.target in (None, self.target):
                found.append(other)
        return found

    def _legacy(self, node: Node, stored: Mapping[str, NodeRecord]) -> NodeRecord | None:
        if self.account is not None:
            return None
        record = stored.get(node.unique_id)
        if record is None or record.target is not None or record.relation != node.relation:
            return None
        return record

    def records_of_target(
        self, nodes: Mapping[str, Node], stored: Mapping[str, NodeRecord], target_name: str
    ) -> dict[str, NodeRecord]:
        """Another target's records of `nodes`, keyed by unique id: for each node, the
        newest full record that target wrote, wherever it built (its `relation` says where).
        Keys of an integration account name relations only: there, none is found."""
        found: dict[str, NodeRecord] = {}
        for key, record in stored.items():
            uid, at, _ = key.partition("@")
            if not at or record.target != target_name or uid not in nodes:
                continue
            earlier = found.get(uid)
            if earlier is None or record.last_updated > earlier.last_updated:
                found[uid] = record
        return found


def mirror_of(record: NodeRecord) -> NodeRecord:
    """The slim copy of a record kept under the plain key: dbt-orchestra's fields
    (`last_updated`, `checksum`, `sources`), the relation and the target."""
    return NodeRecord(
        last_updated=record.last_updated,
        checksum=record.checksum,
        sources={source: at for source, at in record.sources.items() if at is not None},
        relation=record.relation,
        target=record.target,
    )
