"""The state key rule (dbt-orchestra's): which key a node's record is kept under, and which
keys belong to this run's account. The dbt package's hooks follow the same rule
(`orchestra_dbt._state_key`); tests/unit/test_hook_spec.py keeps the two in step."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from orchestra_dbt_py.core.graph import Node

__all__ = ["KeyScope"]

T = TypeVar("T")


@dataclass(frozen=True)
class KeyScope:
    """Keys are unique ids; for a shared integration account (`integration_account_id` set,
    `local_run` off) they are `<account>.<relation>` (`<account>.<unique id>` for nodes
    without a relation, such as tests), and only keys with that prefix are this run's."""

    account: str | None = None

    @classmethod
    def of(cls, integration_account_id: str | None, local_run: bool) -> KeyScope:
        return cls(integration_account_id if integration_account_id and not local_run else None)

    @property
    def prefix(self) -> str | None:
        return None if self.account is None else f"{self.account}."

    def key(self, node: Node) -> str:
        if self.account is None:
            return node.unique_id
        return f"{self.account}.{node.relation or node.unique_id}"

    def owns(self, key: str) -> bool:
        return self.account is None or key.startswith(f"{self.account}.")

    def within(self, items: Mapping[str, T]) -> dict[str, T]:
        """The entries of `items` whose keys are this scope's."""
        return {key: value for key, value in items.items() if self.owns(key)}

    def keys_within(self, keys: Iterable[str]) -> list[str]:
        return [key for key in keys if self.owns(key)]

    def records_of(self, nodes: Mapping[str, Node], stored: Mapping[str, T]) -> dict[str, T]:
        """The stored records of `nodes`, keyed by unique id."""
        found: dict[str, T] = {}
        for uid, node in nodes.items():
            key = self.key(node)
            if key in stored:
                found[uid] = stored[key]
        return found
