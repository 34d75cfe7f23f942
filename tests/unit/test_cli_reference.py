"""README.md's command reference is made from the help pages and checked against them."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

# Runs dbt-core's code (its Jinja, click or artifacts): tested on every supported release.
pytestmark = pytest.mark.compat

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cli_reference.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cli_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_reference_matches_the_help_pages() -> None:
    checked = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stderr


def test_every_command_and_option_is_in_the_reference() -> None:
    text = load_script().reference()
    for usage in (
        "orc dbt [DBT ARGUMENTS]...",
        "orc plan [OPTIONS] [DBT BUILD ARGUMENTS]...",
        "orc state forget [OPTIONS] [DBT SELECTION]...",
        "orc state migrate --from URI --to URI",
        "orc state push [OPTIONS] FILE",
        "orc state validate [OPTIONS] [FILE]...",
    ):
        assert f"- `{usage}`" in text
    for option in ("`--json`", "`-o, --output [text|json]`", "`--html PATH`", "`--all`"):
        assert option in text


def test_a_stale_reference_is_replaced() -> None:
    script = load_script()
    stale = f"intro\n{script.START}\n- `orc old`\n{script.END}\nrest\n"
    fresh = script._with_reference(stale)
    assert "orc old" not in fresh
    assert fresh.startswith(f"intro\n{script.START}\n- `orc [OPTIONS]")
    assert fresh.endswith(f"{script.END}\nrest\n")
