"""A stateful `orc dbt build|run|test` and `orc plan`: plan (`planning`), build what the plan
says (`rounds`, through a `building.StatefulBuild`), record, report. The decisions are the
core's; this module only wires the edges, and nothing it calls calls back into it."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path

from orchestra_dbt_py.artifacts import reported_write
from orchestra_dbt_py.building import (
    StatefulBuild,
    hooks_exit_code,
    measure_for_next_run,
    run_hooks_on_reuse,
    skip_after_failed_start,
)
from orchestra_dbt_py.config import ALWAYS_ON, Settings
from orchestra_dbt_py.coordination import Coordinator, live_claims
from orchestra_dbt_py.core.claims import Claim
from orchestra_dbt_py.core.graph import plural, times
from orchestra_dbt_py.core.planner import Plan
from orchestra_dbt_py.core.records import format_timestamp
from orchestra_dbt_py.dbt.command import DbtCommand, console_flags, run_dbt
from orchestra_dbt_py.dbt.hook_writes import writer_line
from orchestra_dbt_py.dbt.hooks import START, ProjectHooks
from orchestra_dbt_py.dbt.invocation import invocation_id, one_invocation_id
from orchestra_dbt_py.dbt.retry import previous_run
from orchestra_dbt_py.dbt.run_results import (
    CLONED_MESSAGE,
    REUSED_MESSAGE,
    RUN_RESULTS,
    add_reused_results,
)
from orchestra_dbt_py.errors import OrcError
from orchestra_dbt_py.planning import PlannedRun, make_plan, partial_data_nodes
from orchestra_dbt_py.recorder import RunRecorder
from orchestra_dbt_py.report import console
from orchestra_dbt_py.report.fit import console_width
from orchestra_dbt_py.report.html import HTML_ARTIFACT, write_plan_html
from orchestra_dbt_py.report.plan import (
    PLAN_ARTIFACT,
    estimated_savings,
    plan_document,
    plan_edges,
    write_plan_artifact,
)
from orchestra_dbt_py.rounds import Rounds, build_in_rounds
from orchestra_dbt_py.state import StateBackend


def show_plan(
    command: DbtCommand,
    settings: Settings,
    env: Mapping[str, str],
    as_json: bool,
    html_path: Path | None = None,
    wide: bool = False,
) -> int:
    """`orc plan`: the decisions `orc dbt build` would make; nothing is built or saved."""
    with orc_lines(command, settings, stdout_for_data=as_json):
        # dbt's warnings go where orc's lines go: stdout carries the JSON document.
        with redirect_stdout(sys.stderr) if as_json else nullcontext():
            planned = make_plan(command, settings, env)
        if planned.defers_to is not None:
            console.say(f"defers to {planned.defers_to}")
        starting = ProjectHooks(planned.session).count(START)
        if starting:
            console.say(
                f"{plural(starting, 'on-run-start hook')}: `orc dbt` runs them before it "
                "measures; this plan ran none, and does not see what they will write"
            )
        building = planned.plan.ids("build")
        for uid, written in planned.hook_writers(building).items():
            console.say(writer_line(planned.nodes[uid].label, written))
        saved = estimated_savings(
            planned.plan, planned.state, planned.nodes, planned.session.threads
        )
        with planned.phases.timed("claims"):
            claims = _live_claims(planned, settings)
        document = plan_document(
            command.args,
            planned.plan,
            planned.nodes,
            {},
            saved,
            planned.defers_to,
            measurements=planned.warehouse.measurements,
            phases=planned.phases.document(),
            claims=[
                {
                    "unique_id": uid,
                    "run_id": claim.run_id,
                    "owner": claim.owner,
                    "host": claim.host,
                    "pid": claim.pid,
                    "expires": format_timestamp(claim.expires),
                }
                for uid, claim in sorted(claims.items())
            ],
        )
        if html_path is not None:
            fix = "give --html the path of a file in a folder you can write"
            with reported_write(html_path, fix):
                write_plan_html(html_path, document, plan_edges(planned.plan, planned.nodes))
        if as_json:
            print(json.dumps(document, indent=2))
        else:
            console.print_plan_table(
                planned.plan,
                planned.nodes,
                planned.state,
                planned.freshness,
                planned.session.threads,
                console_width(wide),
            )
            for uid, claim in sorted(claims.items()):
                print(
                    f"{planned.nodes[uid].label} is being built by {claim.label} "
                    f"(claim renewed until {claim.expires:%Y-%m-%d %H:%M:%S} UTC)"
                )
        if html_path is not None:
            console.say(f"wrote the plan page to {console.shown_path(html_path)}")
        _write_manifest(planned)
    return 0


@contextmanager
def orc_lines(
    command: DbtCommand, settings: Settings, stdout_for_data: bool = False
) -> Iterator[None]:
    """orc's lines follow dbt's console flags as dbt reads them (see `console.configure`),
    and carry the one dbt invocation id of this orc command (see `one_invocation_id`)."""
    flags = console_flags(command)
    console.configure(flags, stdout_for_data, invocation_id, debug=settings.debug)
    with one_invocation_id():
        yield


def run_stateful(command: DbtCommand, settings: Settings, env: Mapping[str, str]) -> int:
    with orc_lines(command, settings):
        return _run_stateful(command, settings, env)


def run_retry(command: DbtCommand, settings: Settings, env: Mapping[str, str]) -> int:
    """`orc dbt retry`: the previous stateful command again, on what failed in it and what
    dbt skipped (never what orc reused), recorded as a build records; plain `dbt retry`
    when there is no previous run or orc did not plan it."""
    with orc_lines(command, settings):
        retry = previous_run(command)
        if retry is None:
            return run_dbt(list(command.args))
        return _run_stateful(retry.command, settings, env, rerun=retry.nodes)


def _run_stateful(
    command: DbtCommand,
    settings: Settings,
    env: Mapping[str, str],
    rerun: Mapping[str, str] | None = None,
) -> int:
    started_at = datetime.now(UTC)
    planned = make_plan(
        command, settings, env, on_wait=console.say, run_start_hooks=True, rerun=rerun
    )
    hooks = ProjectHooks(planned.session)
    if planned.start_hooks.failures and hooks.skip_nodes_after_failed_start:
        _write_manifest(planned)
        return skip_after_failed_start(planned, hooks)
    for key in settings.always_on_keys:
        console.say(f"{key} is set: orc always {ALWAYS_ON[key]}, whatever its value", "debug")
    console.announce_plan(planned.plan, planned.nodes)
    build = StatefulBuild(planned, command, settings, _recorder(planned, command, settings))
    with planned.phases.timed("reuse_hooks"):
        on_reuse = run_hooks_on_reuse(planned, hooks)
    busy = planned.plan.ids("build") or planned.plan.ids("clone")
    built = _build(build) if busy else Rounds(plan=planned.plan)
    with planned.phases.timed("end_hooks"):
        ended = build.run_end_hooks(hooks, built)
    if busy and not built.interrupted:
        with planned.phases.timed("next_run_measurements"):
            measure_for_next_run(planned)
    _summarize(build, built)
    _write_manifest(planned)
    _write_artifacts(build, built.plan, started_at)
    return max(built.code, hooks_exit_code(planned.start_hooks, on_reuse, ended))


def _recorder(planned: PlannedRun, command: DbtCommand, settings: Settings) -> RunRecorder:
    """The recorder of this run's results, starting from the state it planned on."""
    scope = planned.session.key_scope(settings)
    nodes = planned.nodes
    return RunRecorder(
        nodes=nodes,
        known=dict(planned.state),
        versions=planned.versions,
        checksums=planned.graph.checksums,
        backend=planned.backend,
        scope=scope,
        forgotten=frozenset(partial_data_nodes(command, planned.session, planned.selected)),
        sql_inputs=planned.sql_inputs,
        deferred_reads=planned.deferred_reads,
    )


def _build(build: StatefulBuild) -> Rounds:
    """Build what the plan says, in rounds when other runs share the state, recording as
    nodes finish; the state is saved last, whatever happened."""
    planned, recorder = build.planned, build.recorder
    backend = planned.backend
    coordinator = _coordinator(build.settings, backend, recorder.key_of)
    recorder.start()
    try:
        return build_in_rounds(
            planned.nodes,
            build.clone_first(),
            planned.state,
            build,
            coordinator=coordinator,
            max_wait_seconds=build.settings.max_wait_seconds,
            say=console.say,
            phases=planned.phases,
        )
    finally:
        try:
            build.record_waiting_clones()
            with planned.phases.timed("state_write"):
                recorder.finish()
        except Exception as error:
            raise OrcError(
                f"dbt ran, but saving the state to {backend.description} failed: {error}",
                exit_code=2,
            ) from error
        finally:
            if coordinator is not None:
                coordinator.stop()


def _summarize(build: StatefulBuild, built: Rounds) -> None:
    recorder, planned = build.recorder, build.planned
    saved = estimated_savings(built.plan, planned.state, planned.nodes, planned.session.threads)
    console.summarize(built.plan, recorder.statuses, saved, recorder.interrupted)
    if recorder.save_error is not None:
        console.warn(
            f"a checkpoint save failed during the run, the final save succeeded: "
            f"{recorder.save_error}"
        )
    if planned.plan.ids("build"):
        console.say(
            f"state saved {times(recorder.saves)} during the run "
            f"({recorder.save_seconds:.2f} s in all) to {planned.backend.description}",
            "debug",
        )


def _write_manifest(planned: PlannedRun) -> None:
    """dbt's manifest.json, when no build of dbt's has written it (`DbtSession`)."""
    manifest = planned.session.target_dir / "manifest.json"
    with planned.phases.timed("artifacts"), reported_write(manifest, "make the folder writable"):
        planned.session.write_manifest()


def _write_artifacts(build: StatefulBuild, decided: Plan, started_at: datetime) -> None:
    """run_results.json completed with the reused nodes, then orc_plan.json and the plan's
    page (whose phases end with the first). Last, so that a report that cannot be written
    hides nothing of the run."""
    planned, command, nodes = build.planned, build.command, build.planned.nodes
    target_dir = planned.session.target_dir
    fix = "dbt ran and the state is saved; remove what is in the way or make the folder writable"
    with planned.phases.timed("artifacts"), reported_write(target_dir / RUN_RESULTS, fix):
        add_reused_results(
            target_dir,
            {
                **{
                    uid: f"{REUSED_MESSAGE}{decided.decisions[uid].reason}"
                    for uid in decided.ids("reuse")
                    if nodes[uid].materialized != "ephemeral"
                },
                **{
                    uid: f"{CLONED_MESSAGE}{d.clone_from}: {d.reason}"
                    for uid, d in decided.decisions.items()
                    if d.action == "clone"
                },
            },
            {uid: node.relation for uid, node in nodes.items()},
            started_at,
            {"which": command.subcommand, "invocation_command": shlex.join(["dbt", *command.args])},
            earlier=build.results,
        )
    saved = estimated_savings(decided, planned.state, nodes, planned.session.threads)
    document = plan_document(
        command.args,
        decided,
        nodes,
        build.recorder.statuses,
        saved,
        planned.defers_to,
        measurements=planned.warehouse.measurements,
        phases=planned.phases.document(),
    )
    with reported_write(target_dir / PLAN_ARTIFACT, fix):
        write_plan_artifact(target_dir, document)
    with reported_write(target_dir / HTML_ARTIFACT, fix):
        write_plan_html(target_dir / HTML_ARTIFACT, document, plan_edges(decided, nodes))
    page = console.shown_path(target_dir / HTML_ARTIFACT)
    console.say(f"plan and reasons: {page} (orc plan shows them as a table)")


def _live_claims(planned: PlannedRun, settings: Settings) -> dict[str, Claim]:
    scope = planned.session.key_scope(settings)
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
