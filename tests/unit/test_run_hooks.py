"""The pieces of running a project's hooks that need no warehouse: whether a reused node asks
for its hooks, and the dbt flags orc renders the project's hooks with (the user's command,
as dbt's own preflight reads it, project `flags:` included)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from orchestra_dbt_py.dbt.command import command_flags, parse_command
from orchestra_dbt_py.dbt.hooks import end_hook_context, runs_hooks_on_reuse
from orchestra_dbt_py.errors import OrcError

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

ON = {"execute_hooks_on_any_reuse": True}
OFF = {"execute_hooks_on_any_reuse": False}


@pytest.mark.parametrize(
    ("config", "meta", "asked"),
    [
        ({}, {}, False),
        ({"state": ON}, {}, True),
        ({}, {"orchestra_dbt": ON}, True),
        ({"state": OFF}, {"orchestra_dbt": ON}, True),
        ({"state": OFF}, {}, False),
        ({"state": {"evaluate_volatile_sql": True}}, {"orchestra_dbt": {}}, False),
        ({"state": None}, {"orchestra_dbt": "yes"}, False),  # not a settings block at all
    ],
)
def test_a_reused_node_runs_its_hooks_only_when_it_asks(
    config: dict[str, Any], meta: dict[str, Any], asked: bool
) -> None:
    assert runs_hooks_on_reuse("model.p.m", config, meta) is asked


def test_a_setting_that_is_not_a_boolean_is_an_error_naming_the_node() -> None:
    with pytest.raises(OrcError) as raised:
        runs_hooks_on_reuse("model.p.m", {}, {"orchestra_dbt": {"execute_hooks_on_any_reuse": 1}})
    assert str(raised.value) == (
        "model.p.m sets meta.orchestra_dbt.execute_hooks_on_any_reuse to 1: set it to true or false"
    )


def test_hooks_see_the_flags_of_the_users_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path))
    (tmp_path / "dbt_project.yml").write_text(
        'name: p\nversion: "1"\nconfig-version: 2\nprofile: p\n'
        "flags:\n  skip_nodes_if_on_run_start_fails: true\n"
    )
    flags = command_flags(parse_command(["--debug", "run", "--select", "a+"]))
    assert (flags.WHICH, flags.DEBUG, tuple(flags.SELECT)) == ("run", True, ("a+",))
    # What orc reads to skip every node after a failed on-run-start hook, as dbt does.
    assert flags.SKIP_NODES_IF_ON_RUN_START_FAILS is True


def result(status: str, schema: str | None = None, thread: str = "Thread-1") -> SimpleNamespace:
    node = SimpleNamespace(database="db", schema=schema, is_relational=schema is not None)
    return SimpleNamespace(status=status, node=node, thread_id=thread)


def test_on_run_end_hooks_get_what_dbt_gives_them() -> None:
    built, failed, tested = result("success", "a"), result("error", "b"), result("pass")
    passed_hook, failed_hook = result("success", thread="main"), result("error", thread="main")
    context = end_hook_context([built, failed, tested, passed_hook, failed_hook])
    # As dbt's RunTask.after_run: a start hook that passed is left out of `results`.
    assert context["results"] == [built, failed, tested, failed_hook]
    assert (context["schemas"], context["database_schemas"]) == (["a"], [("db", "a")])
