"""The project cache (dbt/project_cache.py): fingerprints and selections are computed once per
project version, and whatever changes what they would be makes them computed again: what is
read back always equals what would be computed now."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

from orchestra_dbt_py.dbt import graph as graph_module
from orchestra_dbt_py.dbt.command import parse_command
from orchestra_dbt_py.dbt.graph import read_graph
from orchestra_dbt_py.dbt.project_cache import CACHE_FILE, ProjectCache, RecordingEnv
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.fingerprint import Definitions
from orchestra_dbt_py.fingerprint.variables import project_settings, vars_provider

ONE = "model.shop.one"


def definitions_of(ids: Collection[str], reads: Mapping[str, str] | None = None) -> Definitions:
    for name in reads or {}:
        (reads or {}).get(name)
    return Definitions(
        {uid: f"fp-{uid}" for uid in ids}, frozenset(), {uid: {"code": "x"} for uid in ids}
    )


def never(ids: Collection[str], env: RecordingEnv) -> Definitions:
    raise AssertionError(f"computed again: {sorted(ids)}")


def test_kept_definitions_are_read_back_for_the_same_version(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    first = ProjectCache(path, "v1", {})
    assert first.definitions([ONE], lambda ids, env: definitions_of(ids)).fingerprints == {
        ONE: f"fp-{ONE}"
    }
    first.save()
    again = ProjectCache(path, "v1", {})
    assert again.definitions([ONE], never).parts == {ONE: {"code": "x"}}
    # Only what is missing is computed, and kept beside the rest.
    two = "model.shop.two"
    asked: list[list[str]] = []

    def compute(ids: Collection[str], env: RecordingEnv) -> Definitions:
        asked.append(list(ids))
        return definitions_of(ids)

    assert set(again.definitions([ONE, two], compute).fingerprints) == {ONE, two}
    assert asked == [[two]]
    again.save()
    assert set(ProjectCache(path, "v1", {}).definitions([ONE, two], never).fingerprints) == {
        ONE,
        two,
    }


def test_another_version_or_a_damaged_file_is_computed_again(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    cache = ProjectCache(path, "v1", {})
    cache.definitions([ONE], lambda ids, env: definitions_of(ids))
    cache.save()
    computed: list[str] = []

    def compute(ids: Collection[str], env: RecordingEnv) -> Definitions:
        computed.append("again")
        return definitions_of(ids)

    ProjectCache(path, "v2", {}).definitions([ONE], compute)
    document = json.loads(path.read_text())
    for damaged in (
        "{not json",
        json.dumps({**document, "orc_project_cache": 99}),
        json.dumps({**document, "nodes": {ONE: {"fingerprint": 1}}}),
        json.dumps({**document, "nodes": {ONE: {**document["nodes"][ONE], "parts": {"a": 1}}}}),
        json.dumps({**document, "selections": {"k": {"ids": "model.shop.one"}}}),
        json.dumps({**document, "env_read": {"HOME": 3}}),
        json.dumps([]),
    ):
        path.write_text(damaged)
        ProjectCache(path, "v1", {}).definitions([ONE], compute)
    assert computed == ["again"] * 8


def test_an_env_var_read_changes_the_cache_and_others_do_not(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE

    def reading(ids: Collection[str], env: RecordingEnv) -> Definitions:
        env.get("SHOP_REGION")
        return definitions_of(ids)

    cache = ProjectCache(path, "v1", {"SHOP_REGION": "eu", "OTHER": "1"})
    cache.definitions([ONE], reading)
    cache.save()
    ProjectCache(path, "v1", {"SHOP_REGION": "eu", "OTHER": "2"}).definitions([ONE], never)
    for env in ({"SHOP_REGION": "us", "OTHER": "1"}, {"OTHER": "1"}):
        with pytest.raises(AssertionError, match="computed again"):
            ProjectCache(path, "v1", env).definitions([ONE], never)
    # A fingerprinter that went through every variable: any change computes again.
    listing = ProjectCache(path, "v2", {"A": "1"})
    listing.definitions([ONE], lambda ids, env: definitions_of(ids, dict(env)))
    listing.save()
    assert "secret" not in path.read_text()
    ProjectCache(path, "v2", {"A": "1"}).definitions([ONE], never)
    with pytest.raises(AssertionError, match="computed again"):
        ProjectCache(path, "v2", {"A": "1", "B": "2"}).definitions([ONE], never)


def test_selections_that_read_other_artifacts_are_never_kept(tmp_path: Path) -> None:
    cache = ProjectCache(tmp_path / CACHE_FILE, "v1", {})
    for select in ("state:modified+", "result:error", "source_status:fresher+"):
        assert cache.selection_key({"select": (select,)}, None) is None
    selector = {"selectors": [{"name": "s", "definition": {"method": "state", "value": "new"}}]}
    assert cache.selection_key({"selector": "s"}, selector) is None
    key = cache.selection_key({"select": ("tag:daily",)}, None)
    assert key is not None
    assert key != cache.selection_key({"select": ("tag:hourly",)}, None)
    for index in range(40):
        cache.keep_selection(f"k{index}", [ONE], [])
    cache.keep_selection(key, [ONE], ["a warning"])
    cache.save()
    again = ProjectCache(tmp_path / CACHE_FILE, "v1", {})
    assert again.selection(key) == ([ONE], ["a warning"])
    assert again.selection("k0") is None and again.selection("k39") == ([ONE], [])


# -- on a real project: what is read back equals what is computed now -----------------------


@pytest.mark.compat
def test_every_change_to_the_project_is_a_new_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "macros").mkdir()
    (project / "seeds").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shop\n"
        "models:\n  shop:\n    +materialized: table\n"
    )
    (project / "models" / "one.sql").write_text(
        "select {{ twice(1) }} as id, '{{ env_var('SHOP_REGION', 'eu') }}' as region,"
        " {{ var('rate', 1) }} as rate\n"
    )
    (project / "models" / "two.sql").write_text("select * from {{ ref('codes') }}\n")
    (project / "macros" / "twice.sql").write_text("{% macro twice(x) %}{{ x }} * 2{% endmacro %}\n")
    (project / "seeds" / "codes.csv").write_text("code\na\n")
    (tmp_path / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {tmp_path / 'shop.duckdb'}\n      schema: dev\n"
    )
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_REGION", "eu")
    base = ["build", "--project-dir", str(project), "--profiles-dir", str(tmp_path)]
    base += ["--log-path", str(tmp_path / "logs")]
    computed: list[int] = []
    real = graph_module.fingerprint_definitions

    def counting(manifest: object, **kwargs: object) -> Definitions:
        computed.append(1)
        return real(manifest, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(graph_module, "fingerprint_definitions", counting)

    def fingerprints(*extra: str) -> tuple[dict[str, str], list[str], bool]:
        """The graph's fingerprints through the cache, the selection, and whether they were
        computed; they must equal those computed now without it."""
        computed.clear()
        session = DbtSession(parse_command([*base, *extra]))
        selected = session.selected_ids()
        graph = read_graph(session, selected, os.environ)
        session.project_cache(os.environ).save()
        fresh = real(
            session.manifest,
            vars_for_package=vars_provider(session.config),
            env=os.environ,
            adapter_type=session.adapter_type,
            node_ids=[uid for uid in selected if uid in session.manifest.nodes],
            target=session.target_dict,
            settings=project_settings(session.config),
        )
        kept = {uid: n.fingerprint for uid, n in graph.nodes.items() if uid in fresh.fingerprints}
        assert kept == fresh.fingerprints
        return kept, selected, bool(computed)

    first, selected, was_computed = fingerprints()
    assert was_computed and "model.shop.two" in selected
    unchanged, _, was_computed = fingerprints()
    assert unchanged == first and not was_computed

    def edit(path: Path, old: str, new: str) -> None:
        path.write_text(path.read_text().replace(old, new))

    changes = [
        ("SQL", lambda: edit(project / "models" / "one.sql", "as id", "as ident"), ()),
        ("macro", lambda: edit(project / "macros" / "twice.sql", "* 2", "* 3"), ()),
        (
            "project config",
            lambda: edit(project / "dbt_project.yml", "table", "view"),
            (),
        ),
        ("env var", lambda: monkeypatch.setenv("SHOP_REGION", "us"), ()),
        ("vars", lambda: None, ("--vars", "{rate: 2}")),
        ("seed, same size", lambda: (project / "seeds" / "codes.csv").write_text("code\nb\n"), ()),
    ]
    previous = unchanged
    for what, change, extra in changes:
        change()
        now, _, was_computed = fingerprints(*extra)
        assert was_computed, what
        assert now != previous, what
        previous = now
        if extra:  # back to no --vars: the fingerprints are those of before
            previous, _, _ = fingerprints()
    (project / "models" / "three.sql").write_text("select 3 as id\n")
    _, selected, _ = fingerprints()
    assert "model.shop.three" in selected
    assert (project / "target" / CACHE_FILE).is_file()


def test_hook_fingerprints_are_kept_for_one_environment(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    asked: list[list[str]] = []

    def compute(ids: Collection[str]) -> dict[str, str | None]:
        asked.append(sorted(ids))
        return {uid: f"hook1:{uid}" if uid == ONE else None for uid in ids}

    cache = ProjectCache(path, "v1", {"A": "1"})
    two = "model.shop.two"
    assert cache.hook_fingerprints([ONE, two], compute) == {ONE: f"hook1:{ONE}", two: None}
    cache.save()
    again = ProjectCache(path, "v1", {"A": "1"})
    assert again.hook_fingerprints([ONE, two], compute) == {ONE: f"hook1:{ONE}", two: None}
    assert asked == [[ONE, two]]
    # The hooks' Jinja may read any env var: another environment computes them again.
    ProjectCache(path, "v1", {"A": "2"}).hook_fingerprints([ONE], compute)
    assert asked == [[ONE, two], [ONE]]
    document = json.loads(path.read_text())
    path.write_text(json.dumps({**document, "hook_fingerprints": {"env": 1, "values": {}}}))
    ProjectCache(path, "v1", {"A": "1"}).hook_fingerprints([ONE], compute)
    assert asked == [[ONE, two], [ONE], [ONE]]
