"""The deferred target: orc's setting, then the profile output's `defer_to_target`, then the
output named `prod`; never the run's own target; an unknown name is one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.config import Settings
from orchestra_dbt_py.dbt.command import parse_command
from orchestra_dbt_py.dbt.deferral import choose_deferred_target, deferred_target
from orchestra_dbt_py.dbt.session import DbtSession
from orchestra_dbt_py.errors import OrcError

pytestmark = pytest.mark.compat

OUTPUTS: dict[str, dict[str, Any]] = {"dev": {}, "ci": {}, "prod": {}}


def choose(
    setting: str | None = None,
    target: str = "dev",
    outputs: dict[str, dict[str, Any]] | None = None,
) -> str | None:
    return choose_deferred_target(
        setting, "shop", target, OUTPUTS if outputs is None else outputs, lambda value: value
    )


@pytest.mark.parametrize(
    ("setting", "target", "outputs", "expected"),
    [
        # prod, when the profile has it, for every other target
        (None, "dev", OUTPUTS, "prod"),
        (None, "ci", OUTPUTS, "prod"),
        (None, "prod", OUTPUTS, None),
        (None, "dev", {"dev": {}, "production": {}}, None),
        # the profile output's own defer_to_target
        (None, "dev", {**OUTPUTS, "dev": {"defer_to_target": "ci"}}, "ci"),
        (None, "dev", {**OUTPUTS, "dev": {"defer_to_target": "none"}}, None),
        (None, "dev", {**OUTPUTS, "dev": {"defer_to_target": "dev"}}, None),
        (None, "ci", {**OUTPUTS, "dev": {"defer_to_target": "ci"}}, "prod"),
        # orc's setting wins over both
        ("ci", "dev", {**OUTPUTS, "dev": {"defer_to_target": "prod"}}, "ci"),
        ("none", "dev", {**OUTPUTS, "dev": {"defer_to_target": "ci"}}, None),
        ("NONE", "dev", OUTPUTS, None),
        ("dev", "dev", OUTPUTS, None),
        ("prod", "prod", OUTPUTS, None),
    ],
)
def test_the_deferred_target(
    setting: str | None, target: str, outputs: dict[str, dict[str, Any]], expected: str | None
) -> None:
    assert choose(setting, target, outputs) == expected


def test_an_unknown_setting_names_the_profile_and_its_outputs() -> None:
    with pytest.raises(OrcError) as raised:
        choose("production")
    assert str(raised.value) == (
        "orc's setting defer_to_target ('production', from ORCHESTRA_DEFER_TO_TARGET or "
        "pyproject) is not an output of profile shop (its outputs: ci, dev, prod): set it to "
        "one of them, or to none to defer to no target"
    )
    assert raised.value.exit_code != 0


def test_an_unknown_name_in_the_profile_names_the_output_it_is_in() -> None:
    with pytest.raises(OrcError) as raised:
        choose(outputs={**OUTPUTS, "dev": {"defer_to_target": "staging"}})
    assert str(raised.value).startswith(
        "defer_to_target ('staging') in output dev of profile shop is not an output of "
        "profile shop (its outputs: ci, dev, prod)"
    )


def test_a_real_profile_rendered_as_dbt_renders_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shop\n"
    )
    (project / "models" / "one.sql").write_text("select 1 as id\n")
    output = f"      type: duckdb\n      path: {tmp_path / 'shop.duckdb'}\n"
    (tmp_path / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n"
        # dbt takes the extra key, and renders it like the rest of the profile.
        "    dev:\n" + output + "      schema: dev\n"
        "      defer_to_target: \"{{ env_var('SHOP_DEFER_TO', 'prod') }}\"\n"
        "    ci:\n" + output + "      schema: ci\n"
        "    prod:\n" + output + "      schema: prod\n"
    )
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.chdir(tmp_path)  # where dbt looks for profiles.yml before its option
    monkeypatch.setenv("SHOP_DEFER_TO", "ci")  # dbt renders with the env of its invocation
    args = ["build", "--project-dir", str(project), "--profiles-dir", str(tmp_path)]
    session = DbtSession(parse_command([*args, "--log-path", str(tmp_path / "logs")]))
    assert session.config.target_name == "dev"
    assert deferred_target(session, Settings()) == "ci"
    assert deferred_target(session, Settings(defer_to_target="none")) is None
    with pytest.raises(
        OrcError, match=r"^orc's setting .* of profile shop \(its outputs: ci, dev, prod\)"
    ):
        deferred_target(session, Settings(defer_to_target="qa"))
