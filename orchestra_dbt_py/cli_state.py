"""The `orc state` commands: init, show, validate, forget, push and migrate.

`orchestra_dbt_py.cli` parses the command line and calls one `*_command` function here; each
returns the exit code. Other modules are imported inside the functions, so that importing
this one stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from orchestra_dbt_py.core.graph import plural
from orchestra_dbt_py.errors import OrcError

if TYPE_CHECKING:
    from orchestra_dbt_py.config import Settings
    from orchestra_dbt_py.core.records import NodeRecord
    from orchestra_dbt_py.dbt.command import DbtCommand
    from orchestra_dbt_py.state import StateBackend


def init_command(settings: Settings) -> int:
    """`orc state init`: create the state the settings select, unless it exists."""
    from orchestra_dbt_py.state import open_backend

    backend = open_backend(settings)
    created = backend.init()
    print(f"{'Created' if created else 'Kept the existing'} state at {backend.description}")
    return 0


def show_command(settings: Settings, as_json: bool, wide: bool = False) -> int:
    """`orc state show [--json]`: list the records of the state."""
    from orchestra_dbt_py.state import open_backend

    backend = open_backend(settings)
    items = backend.load()
    from orchestra_dbt_py.report.fit import console_width

    show(items, backend.description, as_json=as_json, width=console_width(wide))
    return 0


def validate_command(settings: Settings, paths: Sequence[str]) -> int:
    """`orc state validate [FILE...]`: list every problem of the files, or else of the state
    the settings select; exit 2 when there is one."""
    from orchestra_dbt_py.state import open_backend

    location = settings.location
    if not paths and location is not None and location.kind == "local":
        paths = [str(location.path)]
    if paths:
        return validate_file(list(paths))
    backend = open_backend(settings)
    from datetime import UTC, datetime

    from orchestra_dbt_py.core.document import untrusted_records

    items = backend.load()
    _report_problems(backend.description, len(items), untrusted_records(items, datetime.now(UTC)))
    return 0


def push_command(settings: Settings, path: str) -> int:
    """`orc state push FILE`."""
    return transfer(settings, "push", [path])


def migrate_command(settings: Settings, source: str, target: str) -> int:
    """`orc state migrate --from URI --to URI`."""
    return transfer(settings, "migrate", ["--from", source, "--to", target])


def transfer(settings: Settings, action: str, args: list[str]) -> int:
    """`orc state push FILE` and `orc state migrate --from URI --to URI`."""
    from orchestra_dbt_py.state import backend_for_uri, open_backend
    from orchestra_dbt_py.state.transfer import migrate, push

    if action == "push":
        if len(args) != 1:
            raise OrcError("`orc state push` takes one file: the unsaved state a failed save wrote")
        result = push(open_backend(settings), Path(args[0]))
        print(f"Sent {plural(result.sent, 'record')} to {result.target} ({result.total} there now)")
        return 0
    pairs = dict(zip(args[::2], args[1::2], strict=False))
    if len(args) != 4 or set(pairs) != {"--from", "--to"}:
        raise OrcError("`orc state migrate` takes --from URI --to URI")
    source = backend_for_uri(pairs["--from"], settings)
    target = backend_for_uri(pairs["--to"], settings)
    result = migrate(source, target)
    print(f"Copied {plural(result.sent, 'record')} to {result.target} ({result.total} there now)")
    return 0


def show(
    items: Mapping[str, NodeRecord], where: str, as_json: bool, width: int | None = None
) -> None:
    from datetime import UTC, datetime

    from orchestra_dbt_py.core.document import dump_state
    from orchestra_dbt_py.core.records import format_timestamp, is_future_dated
    from orchestra_dbt_py.report.fit import fit_table

    if as_json:
        print(dump_state(items))
        return
    now = datetime.now(UTC)
    print(f"{plural(len(items), 'record')} in {where}")
    rows = []
    for key in sorted(items):
        record = items[key]
        if is_future_dated(record, now):
            age = "in the future: not trusted"
        else:
            age = f"{_describe_age(now - record.last_updated)} ago"
        sources = ", ".join(s.split(".", 2)[-1] for s in sorted(record.sources)) or "-"
        rows.append(
            (
                key,
                f"{_outcome_word(record.status)} {format_timestamp(record.last_updated)} ({age})",
                f"status {record.status or '-'}",
                f"target {record.target or '-'}",
                f"sources: {sources}",
            )
        )
    for line in fit_table(rows, width, shrink=((4, 24), (0, 40), (3, 12), (4, 12))):
        print(line)


def _outcome_word(status: str | None) -> str:
    """`built`, or for a build that did not pass (rebuilt by the next run) what became of it."""
    from orchestra_dbt_py.core.graph import outcome_of

    outcome = outcome_of(status)
    return {"passed": "built", "other": "ended"}.get(outcome, outcome)


def validate_file(paths: list[str]) -> int:
    from datetime import UTC, datetime

    from orchestra_dbt_py.core.document import decode_document, state_problems

    now = datetime.now(UTC)
    failed = 0
    for path in paths:
        try:
            data = Path(path).read_bytes()
            items, problems = state_problems(decode_document(data, path), now)
        except OSError as error:
            items, problems = {}, [f"cannot be read ({error.strerror or type(error).__name__})"]
        except OrcError as error:
            items, problems = {}, [str(error).removeprefix(f"state file {path} ")]
        try:
            _report_problems(path, len(items), problems)
        except OrcError as error:
            failed += 1
            last = error
    if failed > 1:
        raise OrcError(f"{failed} state files have problems (listed above): fix or move them")
    if failed:
        raise last
    return 0


def _report_problems(where: str, count: int, problems: list[str]) -> None:
    """Print the problems of one state, one per line, and fail when there is one."""
    if not problems:
        print(f"{where}: valid state with {plural(count, 'record')}")
        return
    for problem in problems:
        print(f"{where} {problem}", file=sys.stderr)
    raise OrcError(
        f"state {where} has {plural(len(problems), 'problem')} "
        "(listed above): fix or move it; orc never overwrites it"
    )


def forget(settings: Settings, selection: DbtCommand | None) -> int:
    """Drop the records of the nodes a dbt selection names (its arguments read as `orc plan`
    reads them), or every record when there is none, so that those nodes are rebuilt. The
    records to drop are listed first."""
    from orchestra_dbt_py.state import open_backend

    if selection is None:
        backend = open_backend(settings)
        selected = [(key, [key]) for key in sorted(backend.load())]
    else:
        backend, selected = _selected_records(settings, selection)
        if not selected:
            print(f"The selection matches no node: nothing forgotten in {backend.description}")
            return 0
    gone = [(name, keys) for name, keys in selected if keys]
    if gone:
        print("Forgetting the records of:")
        for name, _ in gone:
            print(f"  {name}")
        backend.save({}, removals=[key for _, keys in gone for key in keys])
    print(
        f"Forgot {len(gone)} of {plural(len(selected), 'selected node')} in {backend.description}"
    )
    return 0


def _selected_records(
    settings: Settings, command: DbtCommand
) -> tuple[StateBackend, list[tuple[str, list[str]]]]:
    """The state, and the name of each node the selection names with the stored keys of this
    target's records of it; a missing or empty selection is an error, never every node."""
    from orchestra_dbt_py.dbt.graph import plain_nodes
    from orchestra_dbt_py.dbt.queries import Warehouse
    from orchestra_dbt_py.dbt.session import DbtSession
    from orchestra_dbt_py.state import open_backend

    params = command.params
    if (
        not "".join(params.get("select") or ()).strip()
        and not (params.get("selector") or "").strip()
    ):
        raise OrcError(
            "`orc state forget` needs a selection that names nodes, such as "
            "`orc state forget stg_orders+` or `--select tag:nightly` (--exclude and "
            "--resource-type only narrow one); to forget every record, use --all"
        )
    session = DbtSession(command)
    warehouse = Warehouse(session)
    # A warehouse state is read with the project and target of the selection.
    backend = open_backend(settings, dbt=lambda: warehouse)
    stored = backend.load()
    nodes = plain_nodes(session.manifest, {})
    scope = session.key_scope(settings)
    selected = sorted(session.selected_ids(), key=lambda uid: nodes[uid].label)
    return backend, [(nodes[uid].label, scope.own_keys(nodes[uid], stored)) for uid in selected]


def _describe_age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
