"""A stateful `orc dbt build|run|test` and `orc plan`: parse, load state, measure, plan,
run dbt once, record. The decisions are the core's; this module only wires the edges."""

from __future__ import annotations

import json
import shlex
import signal
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from orchestra_dbt_py.artifacts import reported_write
from orchestra_dbt_py.config import ALWAYS_ON, Settings
from orchestra_dbt_py.coordination import Coordinator, live_claims
from orchestra_dbt_py.core.claims import Claim
from orchestra_dbt_py.core.graph import Node, sources_to_measure, times, versioned_relations
from orchestra_dbt_py.core.keys import KeyScope
from orchestra_dbt_py.core.planner import Plan, PlanOptions, plan, rebuild_reason
from orchestra_dbt_py.core.records import NodeRecord, format_timestamp
from orchestra_dbt_py.core.versions import DataVersion, source_version
from orchestra_dbt_py.dbt.command import DbtCommand, exit_code
from orchestra_dbt_py.dbt.graph import ProjectGraph, read_graph
from orchestra_dbt_py.dbt.invocation import invocation_id, one_invocation_id
from orchestra_dbt_py.dbt.queries import WITHOUT_PACKAGE, Warehouse
from orchestra_dbt_py.dbt.run_results import RUN_RESULTS, add_reused_results, results_since
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.recorder import RunRecorder
from orchestra_dbt_py.report import console
from orchestra_dbt_py.report.html import HTML_ARTIFACT, write_plan_html
from orchestra_dbt_py.report.plan import (
    PLAN_ARTIFACT,
    estimated_savings,
    plan_document,
    plan_edges,
    write_plan_artifact,
)
from orchestra_dbt_py.rounds import build_in_rounds
from orchestra_dbt_py.state import StateBackend, configured_location, open_backend


@dataclass(frozen=True)
class PlannedRun:
    session: DbtSession
    backend: StateBackend
    graph: ProjectGraph
    plan: Plan
    # The state of the project's nodes, keyed by unique id.
    state: dict[str, NodeRecord]
    freshness: dict[str, datetime | None]
    # The data versions observed before the run, of sources and tables (see `plan`).
    versions: dict[str, DataVersion]
    warehouse: Warehouse
    selected: list[str]

    @property
    def nodes(self) -> dict[str, Node]:
        return self.graph.nodes


def make_plan(
    command: DbtCommand,
    settings: Settings,
    env: Mapping[str, str],
    on_wait: Callable[[str], None] | None = None,
) -> PlannedRun:
    """Everything up to the decision; reads the warehouse, writes nothing."""
    location = configured_location(settings)  # before the parse: a typo fails fast
    session = DbtSession(command)
    warehouse = Warehouse(session, settings.require_explicit_source_freshness)
    # A warehouse state is read and written with the command's own project and target.
    backend = open_backend(settings, location=location, on_wait=on_wait, dbt=lambda: warehouse)
    selected = session.selected_ids()
    graph = read_graph(session, selected, env)
    if not warehouse.has_package:
        console.warn(WITHOUT_PACKAGE)
    return decide(session, backend, graph, selected, command, settings, warehouse)


def decide(
    session: DbtSession,
    backend: StateBackend,
    graph: ProjectGraph,
    selected: list[str],
    command: DbtCommand,
    settings: Settings,
    warehouse: Warehouse,
) -> PlannedRun:
    """Read the state, measure and plan: the decision on the state and data as they are now
    (again after waiting for another run)."""
    nodes = graph.nodes
    scope = KeyScope.of(settings.integration_account_id, settings.local_run)
    state = scope.records_of(nodes, backend.load())
    hooked = [
        uid
        for uid, record in state.items()
        if record.hook_fingerprint is not None and uid not in graph.computed_reads
    ]
    for uid, found in warehouse.hook_fingerprints(hooked).items():
        nodes[uid] = replace(nodes[uid], hook_fingerprint=found)
    freshness, errors = warehouse.measure_freshness(sources_to_measure(nodes, selected))
    for uid, error in errors.items():
        console.warn(f"could not measure the freshness of {nodes[uid].label}: {error}")
    existing = warehouse.existing_relations(nodes[uid] for uid in selected)
    versions = observe_versions(nodes, selected, freshness, warehouse)
    options = PlanOptions(
        full_refresh=command.full_refresh,
        rebuild_reason=rebuild_reason(command.partial_data_flags, command.full_refresh),
        unit_tests_run_with_their_model=command.subcommand == "build",
        replacing_drops_dependent_views=warehouse.replacing_drops_dependent_views,
        build_every_seed=not settings.seed_state_orchestration,
    )
    decided = plan(nodes, selected, state, versions, existing, datetime.now(UTC), options)
    return PlannedRun(
        session, backend, graph, decided, state, freshness, versions, warehouse, selected
    )


def observe_versions(
    nodes: Mapping[str, Node],
    selected: Collection[str],
    freshness: Mapping[str, datetime | None],
    warehouse: Warehouse,
) -> dict[str, DataVersion]:
    """The data version of every source and table the plan depends on, measured now; a
    source's `loaded_at` maximum is one of its fields."""
    wanted = versioned_relations(nodes, selected)
    measured, error = warehouse.data_versions(wanted)
    if error is not None:
        console.warn(f"could not measure data versions (they count as changed): {error}")
    found = measured or {}
    return {
        uid: source_version(freshness.get(uid), found.get(uid, {}))
        if nodes[uid].resource_type == "source"
        else found.get(uid, {})
        for uid in wanted
    }


def show_plan(
    command: DbtCommand,
    settings: Settings,
    env: Mapping[str, str],
    as_json: bool,
    html_path: Path | None = None,
) -> int:
    """`orc plan`: the decisions `orc dbt build` would make; nothing is built or saved."""
    with orc_lines(command, stdout_for_data=as_json):
        planned = make_plan(command, settings, env)
        saved = estimated_savings(planned.plan, planned.state)
        document = plan_document(command.args, planned.plan, planned.nodes, {}, saved)
        claims = _live_claims(planned, settings)
        document["claims"] = [
            {
                "unique_id": uid,
                "run_id": claim.run_id,
                "owner": claim.owner,
                "host": claim.host,
                "pid": claim.pid,
                "expires": format_timestamp(claim.expires),
            }
            for uid, claim in sorted(claims.items())
        ]
        if html_path is not None:
            fix = "give --html the path of a file in a folder you can write"
            with reported_write(html_path, fix):
                write_plan_html(html_path, document, plan_edges(planned.plan, planned.nodes))
        if as_json:
            print(json.dumps(document, indent=2))
        else:
            console.print_plan_table(planned.plan, planned.nodes, planned.state, planned.freshness)
            for uid, claim in sorted(claims.items()):
                print(
                    f"{planned.nodes[uid].label} is being built by {claim.label} "
                    f"(claim renewed until {claim.expires:%Y-%m-%d %H:%M:%S} UTC)"
                )
        if html_path is not None:
            console.say(f"wrote the plan page to {console.shown_path(html_path)}")
    return 0


@contextmanager
def orc_lines(command: DbtCommand, stdout_for_data: bool = False) -> Iterator[None]:
    """orc's lines follow the dbt command's `--log-format` and `--quiet`, and carry the one
    dbt invocation id of this orc command (see `one_invocation_id`)."""
    console.configure(command.effective or command.params, stdout_for_data, invocation_id)
    with one_invocation_id():
        yield


def run_stateful(command: DbtCommand, settings: Settings, env: Mapping[str, str]) -> int:
    with orc_lines(command):
        return _run_stateful(command, settings, env)


def _run_stateful(command: DbtCommand, settings: Settings, env: Mapping[str, str]) -> int:
    started_at = datetime.now(UTC)
    planned = make_plan(command, settings, env, on_wait=console.say)
    nodes, decided, backend = planned.nodes, planned.plan, planned.backend
    verbose = bool(settings.debug or command.effective.get("debug"))
    if verbose:
        for key in settings.always_on_keys:
            console.say(f"{key} is set: orc always {ALWAYS_ON[key]}, whatever its value")
    console.announce_plan(decided, nodes, verbose=verbose)
    to_run = decided.ids("build")
    scope = KeyScope.of(settings.integration_account_id, settings.local_run)
    recorder = RunRecorder(
        nodes=nodes,
        known=dict(planned.state),
        versions=planned.versions,
        checksums=planned.graph.checksums,
        backend=backend,
        key_of=lambda uid: scope.key(nodes[uid]),
        forget_everything=bool(command.partial_data_flags),
    )
    code = 0
    ran: list[dict[str, Any]] = []  # dbt's results of every round (it rewrites its file)
    if to_run:

        def run_round(node_ids: Sequence[str]) -> tuple[int, bool]:
            round_started = datetime.now(UTC)
            with interrupts_as_keyboard_interrupt() as received:
                result = planned.session.run(node_ids, callbacks=[recorder.on_event])
            ran.extend(results_since(planned.session.target_dir, round_started))
            record_table_versions(recorder, planned.warehouse)
            recorder.flush()  # before the claims go: a waiting run then finds the records
            return (128 + received[0] if received else exit_code(result)), bool(received)

        def replan() -> tuple[Plan, Mapping[str, NodeRecord]]:
            fresh = decide(
                planned.session,
                backend,
                planned.graph,
                planned.selected,
                command,
                settings,
                planned.warehouse,
            )
            recorder.update_inputs(fresh.state, fresh.versions)
            return fresh.plan, fresh.state

        coordinator = _coordinator(settings, backend, recorder.key_of)
        recorder.start()
        try:
            rounds = build_in_rounds(
                nodes,
                decided,
                planned.state,
                run=run_round,
                load_state=lambda: scope.records_of(nodes, backend.load()),
                replan=replan,
                coordinator=coordinator,
                max_wait_seconds=settings.max_wait_seconds,
                say=console.say,
            )
        finally:
            try:
                recorder.finish()
            except Exception as error:
                raise OrcError(
                    f"dbt ran, but saving the state to {backend.description} failed: {error}",
                    exit_code=2,
                ) from error
            finally:
                if coordinator is not None:
                    coordinator.stop()
        code, decided = rounds.code, rounds.plan
    saved = estimated_savings(decided, planned.state)
    document = plan_document(command.args, decided, nodes, recorder.statuses, saved)
    document["measurements"] = [
        {"step": step, "relations": count, "seconds": round(seconds, 3)}
        for step, count, seconds in planned.warehouse.measurements
    ]
    console.summarize(decided, recorder.statuses, saved)
    if recorder.save_error is not None:
        console.warn(
            f"a checkpoint save failed during the run, the final save succeeded: "
            f"{recorder.save_error}"
        )
    if verbose and to_run:
        console.say(
            f"state saved {times(recorder.saves)} during the run "
            f"({recorder.save_seconds:.2f} s in all) to {backend.description}"
        )
    # Last, so that a report that cannot be written hides nothing of the run.
    target_dir = planned.session.target_dir
    fix = "dbt ran and the state is saved; remove what is in the way or make the folder writable"
    with reported_write(target_dir / PLAN_ARTIFACT, fix):
        write_plan_artifact(target_dir, document)
    with reported_write(target_dir / HTML_ARTIFACT, fix):
        write_plan_html(target_dir / HTML_ARTIFACT, document, plan_edges(decided, nodes))
    with reported_write(target_dir / RUN_RESULTS, fix):
        add_reused_results(
            target_dir,
            {
                uid: decided.decisions[uid].reason
                for uid in decided.ids("reuse")
                if nodes[uid].materialized != "ephemeral"
            },
            {uid: node.relation for uid, node in nodes.items()},
            started_at,
            {"which": command.subcommand, "invocation_command": shlex.join(["dbt", *command.args])},
            earlier=ran,
        )
    page = console.shown_path(target_dir / HTML_ARTIFACT)
    console.say(f"plan and reasons: {page} (orc plan shows them as a table)")
    return code


def _live_claims(planned: PlannedRun, settings: Settings) -> dict[str, Claim]:
    scope = KeyScope.of(settings.integration_account_id, settings.local_run)
    keys = {scope.key(planned.nodes[uid]): uid for uid in planned.plan.decisions}
    try:
        return live_claims(planned.backend, keys, datetime.now(UTC))
    except OrcError as error:  # the plan stands without them; a build stops on it
        console.warn(f"live claims not shown: {error}")
        return {}


def _coordinator(
    settings: Settings, backend: StateBackend, key_of: Callable[[str], str]
) -> Coordinator | None:
    """Claims for this run, unless waiting is off or the backend cannot hold them."""
    if not settings.wait_for_other_runs:
        return None
    if backend.no_claims_reason is not None:
        console.say(f"overlapping runs are not coordinated: {backend.no_claims_reason}")
        return None
    return Coordinator(
        backend,
        key_of,
        settings.claim_lease_seconds,
        poll_seconds=max(0.5, backend.checkpoint_seconds),
    )


def record_table_versions(recorder: RunRecorder, warehouse: Warehouse) -> None:
    """Measure the tables the run built, in one call, and keep each one's version in its
    record: a later change made outside orc is then seen. When the measurement fails the
    records keep no version, and the next run rebuilds those tables."""
    built = recorder.built_tables()
    if not built:
        return
    try:
        measured, error = warehouse.data_versions(built)
    except Exception as failure:  # never in the way of saving what the run built
        measured, error = None, str(failure)
    if measured is None:
        console.warn(f"could not measure the tables this run built: {error}")
        return
    recorder.set_table_versions({uid: measured.get(uid, {}) for uid in built})


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
