"""A stateful `orc dbt build|run|test`: load state, measure, plan, run, record."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from orchestra_dbt_py import report
from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.dbt_session import DbtCommand, DbtSession, exit_code
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.fingerprint import (
    fingerprint_definitions,
    project_settings,
    vars_provider,
)
from orchestra_dbt_py.html_report import HTML_ARTIFACT, write_plan_html
from orchestra_dbt_py.planner import (
    HOOK_FINGERPRINT_PREFIX,
    Node,
    Plan,
    PlanOptions,
    plan,
    sources_to_measure,
)
from orchestra_dbt_py.recorder import RunRecorder
from orchestra_dbt_py.state import LocalFileBackend, StateBackend, open_backend
from orchestra_dbt_py.state.document import NodeRecord


@dataclass(frozen=True)
class PlannedRun:
    session: DbtSession
    nodes: dict[str, Node]
    plan: Plan
    state: dict[str, NodeRecord]
    freshness: dict[str, datetime | None]


def state_key(node: Node, settings: Settings) -> str:
    """dbt-orchestra's key rule: the unique id, or `<account>.<relation>` for shared accounts
    (`<account>.<unique id>` for nodes without a relation, such as tests)."""
    if settings.integration_account_id and not settings.local_run:
        return f"{settings.integration_account_id}.{node.relation or node.unique_id}"
    return node.unique_id


def open_for_command(
    command: DbtCommand, settings: Settings, on_wait: Callable[[str], None] | None = None
) -> tuple[DbtSession, StateBackend]:
    """Parse the project and open the state backend (a warehouse table through the same
    session, so it is read and written with the command's target)."""
    opened: list[DbtSession] = []
    backend = open_backend(settings, on_wait=on_wait, dbt=lambda: opened[0])
    opened.append(DbtSession(command))
    return opened[0], backend


def make_plan(
    session: DbtSession,
    command: DbtCommand,
    settings: Settings,
    env: Mapping[str, str],
    load_state: Callable[[], Mapping[str, NodeRecord]],
) -> PlannedRun:
    """Everything up to the decision; reads the warehouse, writes nothing."""
    selected = session.selected_ids()
    # Unit tests are fingerprinted with the model they test (in dbt_session.graph).
    manifest_nodes = session.manifest.nodes
    unit_tests = session.manifest.unit_tests
    tested = {p for uid in selected if uid in unit_tests for p in unit_tests[uid].depends_on.nodes}
    definitions = fingerprint_definitions(
        session.manifest,
        vars_for_package=vars_provider(session.config),
        env=env,
        adapter_type=session.adapter_type,
        node_ids=sorted({uid for uid in [*selected, *tested] if uid in manifest_nodes}),
        target=session.config.to_target_dict(),
        settings=project_settings(session.config),
    )
    nodes = session.graph(definitions.fingerprints)
    stored = load_state()
    state = {
        uid: stored[state_key(node, settings)]
        for uid, node in nodes.items()
        if state_key(node, settings) in stored
    }
    hooked = [
        uid
        for uid, record in state.items()
        if (record.fingerprint or "").startswith(HOOK_FINGERPRINT_PREFIX)
        and uid not in definitions.computed_reads
    ]
    for uid, found in session.hook_fingerprints(hooked).items():
        nodes[uid] = replace(nodes[uid], hook_fingerprint=found)
    freshness, errors = session.measure_freshness(sources_to_measure(nodes, selected))
    for uid, error in errors.items():
        report.say(f"could not measure the freshness of {nodes[uid].label}: {error}")
    existing = session.existing_relations(nodes[uid] for uid in selected)
    options = PlanOptions(
        full_refresh=command.full_refresh,
        rebuild_reason=rebuild_reason(command),
        unit_tests_run_with_their_model=command.subcommand == "build",
        replacing_drops_dependent_views=session.replacing_drops_dependent_views,
    )
    decided = plan(nodes, selected, state, freshness, existing, datetime.now(UTC), options)
    return PlannedRun(session, nodes, decided, state, freshness)


def rebuild_reason(command: DbtCommand) -> str | None:
    if command.partial_data_flags:
        flags = " ".join(command.partial_data_flags)
        return f"{flags} builds partial data: nothing is reused, and what is built is forgotten"
    if command.full_refresh:
        return "--full-refresh requested"
    return None


def show_plan(
    command: DbtCommand,
    settings: Settings,
    env: Mapping[str, str],
    as_json: bool,
    html_path: Path | None = None,
) -> int:
    """`orc plan`: the decisions `orc dbt build` would make; nothing is built or saved."""
    report.use_log_format(command.params.get("log_format"))
    session, backend = open_for_command(command, settings)
    planned = make_plan(session, command, settings, env, backend.load)
    saved = report.estimated_savings(planned.plan, planned.state)
    document = report.plan_document(command, planned.plan, planned.nodes, {}, saved)
    if html_path is not None:
        edges = report.plan_edges(planned.plan, planned.nodes)
        write_plan_html(html_path, document, edges)
    if as_json:
        print(json.dumps(document, indent=2))
    else:
        report.print_plan_table(planned.plan, planned.nodes, planned.state, planned.freshness)
    return 0


def run_stateful(command: DbtCommand, settings: Settings, env: Mapping[str, str]) -> int:
    report.use_log_format(command.params.get("log_format"))
    session, backend = open_for_command(command, settings, on_wait=report.say)
    planned = make_plan(session, command, settings, env, backend.load)
    nodes, decided = planned.nodes, planned.plan
    verbose = bool(settings.debug or command.params.get("debug"))
    report.announce_plan(decided, nodes, verbose=verbose)
    to_run = decided.ids("build")
    recorder = RunRecorder(
        nodes=nodes,
        known=dict(planned.state),
        freshness=planned.freshness,
        checksums={
            uid: getattr(getattr(n, "checksum", None), "checksum", None)
            for uid, n in session.manifest.nodes.items()
        },
        backend=backend,
        key_of=lambda uid: state_key(nodes[uid], settings),
        forget_everything=bool(command.partial_data_flags),
        journal=backend.journal if isinstance(backend, LocalFileBackend) else None,
        # A local save is cheap; a remote one is a request: checkpoint less often there.
        checkpoint_seconds=0.25 if settings.backend == "local" else 2.0,
    )
    code = 0
    if to_run:
        recorder.start()
        try:
            with interrupts_as_keyboard_interrupt() as received:
                result = session.run(to_run, callbacks=[recorder.on_event])
        finally:
            try:
                recorder.finish()
            except Exception as error:
                raise OrcError(
                    f"dbt ran, but saving the state to {backend.description} failed: {error}",
                    exit_code=2,
                ) from error
        code = 128 + received[0] if received else exit_code(result)
    saved = report.estimated_savings(decided, planned.state)
    document = report.plan_document(command, decided, nodes, recorder.statuses, saved)
    report.write_plan_artifact(session.target_dir, document)
    write_plan_html(session.target_dir / HTML_ARTIFACT, document, report.plan_edges(decided, nodes))
    report.summarize(decided, recorder.statuses, saved)
    if recorder.save_error is not None:
        report.say(
            f"a checkpoint save failed during the run, the final save succeeded: "
            f"{recorder.save_error}"
        )
    if verbose and to_run:
        report.say(
            f"state saved {recorder.saves} times during the run "
            f"({recorder.save_seconds:.2f} s in all) to {backend.description}"
        )
    return code


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[list[int]]:
    """Let SIGTERM stop dbt the way Ctrl-C does, so completed nodes are still saved.

    Yields a list that holds the signal number once one arrived.
    """
    received: list[int] = []
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handle(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
        raise KeyboardInterrupt

    for sig in previous:
        signal.signal(sig, handle)
    try:
        yield received
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
