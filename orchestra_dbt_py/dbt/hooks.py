"""A project's own hooks, run by orc with dbt's own code: the `on-run-start` and
`on-run-end` hooks of the project and its packages, and the pre- and post-hooks of a reused
node that asks for them.

dbt (1.10 to 1.12) runs the on-run-start hooks at the start of every `build`, `run` and
`test` that selects a node, after creating the schemas of the selected nodes, and the
on-run-end hooks after the nodes, given the run's `results` (`RunTask.before_run`,
`after_run`). A stateful command runs the start hooks here, before it measures, so that
what they write is measured in the same run; its dbt invocations then run without them.
The end hooks run once per command: inside dbt's invocation when there is exactly one,
otherwise here, after the last one or when every node was reused and dbt was not invoked.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from orchestra_dbt_py.dbt.command import command_flags
from orchestra_dbt_py.dbt.node_settings import node_flag
from orchestra_dbt_py.dbt.session import DbtSession, recorded_by_orc
from orchestra_dbt_py.errors import OrcError, one_line

__all__ = [
    "END",
    "REUSE_HOOKS_SETTING",
    "START",
    "HookRun",
    "ProjectHooks",
    "end_hook_context",
    "runs_hooks_on_reuse",
]

START = "on-run-start"
END = "on-run-end"
# dbt State's model config `state: {execute_hooks_on_any_reuse: true}`, also accepted in
# `meta: {orchestra_dbt: {...}}`.
REUSE_HOOKS_SETTING = "execute_hooks_on_any_reuse"


@dataclass
class HookRun:
    """What running hooks left: dbt's RunResult of each hook (passed, failed or skipped
    after a failure) and, for a reused node's hooks, the error."""

    results: list[Any] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # The reused nodes whose hooks ran.
    nodes: list[str] = field(default_factory=list)

    def artifact_results(self) -> list[dict[str, Any]]:
        """The hooks' results as dbt writes them in run_results.json."""
        from dbt.artifacts.schemas.run import process_run_result

        return [process_run_result(result).to_dict(omit_none=False) for result in self.results]

    @property
    def failures(self) -> list[str]:
        """One line per hook that failed."""
        return [
            one_line(result.message) for result in self.results if result.status == "error"
        ] + self.errors


def runs_hooks_on_reuse(label: str, config: Any, meta: Mapping[str, Any]) -> bool:
    """Whether a node asks for its pre- and post-hooks to run when it is reused
    (`execute_hooks_on_any_reuse`, see `node_flag`)."""
    return node_flag(label, config, meta, REUSE_HOOKS_SETTING)


def end_hook_context(results: Sequence[Any]) -> dict[str, Any]:
    """What dbt's `RunTask.after_run` gives the on-run-end hooks: `results` (the nodes' and
    the failed start hooks'), and the schemas (`schemas`, `database_schemas`) of the
    relational nodes that did not fail or get skipped."""
    from dbt.artifacts.schemas.results import NodeStatus, RunStatus

    built = {
        (result.node.database, result.node.schema)
        for result in results
        if getattr(result, "node", None) is not None
        and result.node.is_relational
        and result.status not in (NodeStatus.Error, NodeStatus.Fail, NodeStatus.Skipped)
    }
    return {
        "schemas": list({schema for _, schema in built}),
        "results": [
            result
            for result in results
            if result.thread_id != "main" or result.status == RunStatus.Error
        ],
        "database_schemas": list(built),
    }


class ProjectHooks:
    """The hooks of one parsed project, run through its session's adapter."""

    def __init__(self, session: DbtSession) -> None:
        self.session = session

    def count(self, kind: str) -> int:
        return len(self.session.project_hooks(kind))

    @property
    def skip_nodes_after_failed_start(self) -> bool:
        """dbt's `skip_nodes_if_on_run_start_fails` flag (project `flags:`; off by default
        before dbt-core 1.12, on from 1.12)."""
        return bool(
            getattr(command_flags(self.session.command), "SKIP_NODES_IF_ON_RUN_START_FAILS", False)
        )

    def run_start(self, selected: Collection[str]) -> HookRun:
        """The on-run-start hooks, as dbt runs them before the selected nodes."""
        if not self.count(START):
            return HookRun()

        def start(task: Any, adapter: Any) -> None:
            task.create_schemas(adapter, task.get_model_schemas(adapter, set(selected)))
            task.safe_run_hooks(adapter, _hook_type(START), {})

        return self._run(START, start)

    def run_end(self, results: Sequence[Any]) -> HookRun:
        """The on-run-end hooks, given what dbt's `after_run` gives them: the results of the
        nodes dbt ran (and of the start hooks that failed) and the schemas they built in."""
        if not self.count(END):
            return HookRun()
        extras = end_hook_context(results)

        def end(task: Any, adapter: Any) -> None:
            task.safe_run_hooks(adapter, _hook_type(END), extras)

        return self._run(END, end)

    def run_on_reuse(self, node_ids: Collection[str]) -> HookRun:
        """The pre- and post-hooks of the reused nodes among `node_ids` that ask for them,
        rendered for each node as its materialization renders them, in dbt's order (outside
        then inside the transaction before, inside then outside after)."""
        nodes = self.session.runnable
        wanted = [
            node
            for node in (nodes[uid] for uid in sorted(node_ids) if uid in nodes)
            if (node.config.get("pre_hook") or node.config.get("post_hook"))
            and runs_hooks_on_reuse(node.unique_id, node.config, getattr(node, "meta", {}) or {})
        ]
        done = HookRun()
        if not wanted:
            return done
        from dbt.context.providers import generate_runtime_model_context

        session = self.session
        adapter = session.adapter
        with self._dbt_context():
            for node in wanted:
                try:
                    with adapter.connection_named(f"orc_hooks_{node.name}"):
                        context = generate_runtime_model_context(
                            node, session.config, session.manifest
                        )
                        run_hooks = context["run_hooks"]
                        run_hooks(context["pre_hooks"], inside_transaction=False)
                        run_hooks(context["pre_hooks"], inside_transaction=True)
                        run_hooks(context["post_hooks"], inside_transaction=True)
                        connection = adapter.connections.get_thread_connection()
                        if connection.transaction_open:
                            adapter.connections.commit()
                        run_hooks(context["post_hooks"], inside_transaction=False)
                    done.nodes.append(node.name)
                except Exception as error:  # the node stays reused; the command fails
                    done.errors.append(f"the hooks of {node.name} failed: {one_line(error)}")
                finally:
                    adapter.cleanup_connections()
        return done

    def _run(self, kind: str, call: Any) -> HookRun:
        from dbt.task.run import RunTask

        session = self.session
        adapter = session.adapter
        with self._dbt_context() as flags:
            task = RunTask(flags, session.config, session.manifest)
            try:
                with adapter.connection_named("master"):
                    call(task, adapter)
            except Exception as error:  # a hook dbt could not compile: dbt's exit code 2
                raise OrcError(
                    f"dbt could not run the {kind} hooks: {one_line(error)}", exit_code=2
                ) from error
            finally:
                adapter.cleanup_connections()
        return HookRun(list(task.node_results))

    @contextmanager
    def _dbt_context(self) -> Iterator[Any]:
        """What dbt's preflight sets up for an invocation of the user's command: its flags (a
        hook may read `flags.WHICH`), its log lines, and the environment `env_var` reads,
        taken now, with the package's state hooks told that orc records this run. The
        previous ones are restored after."""
        from dbt.events.logging import setup_event_logger
        from dbt.flags import get_flags, set_flags
        from dbt_common.context import get_invocation_context

        previous = get_flags()
        invocation = get_invocation_context()
        previous_env = invocation._env
        flags = command_flags(self.session.command)
        with recorded_by_orc():
            set_flags(flags)
            setup_event_logger(flags)
            invocation._env = dict(os.environ)
            try:
                yield flags
            finally:
                invocation._env = previous_env
                set_flags(previous)
                setup_event_logger(previous)


def _hook_type(kind: str) -> Any:
    from dbt.node_types import RunHookType

    return RunHookType(kind)
