"""`make demo` tells its story in under 100 lines: its lines, with times, durations and paths
masked, are those of tests/golden/demo.txt (ORC_UPDATE_GOLDEN=1 rewrites that file)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.tutorial import REPO

GOLDEN = REPO / "tests" / "golden" / "demo.txt"
MASKS = [
    (re.compile(r"^\d\d:\d\d:\d\d  ", re.MULTILINE), "HH:MM:SS  "),
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?"), "<time>"),
    (
        re.compile(r"about [^;)\n]+? of wall-clock time avoided"),
        "about <duration> of wall-clock time avoided",
    ),
]


def demo_copy(root: Path) -> Path:
    """What `make demo` needs, copied: the tutorial, the dbt package, the script."""
    shutil.copytree(
        REPO / "tutorial",
        root / "tutorial",
        ignore=shutil.ignore_patterns("target", "dbt_packages", "logs", ".orchestra", "*.duckdb*"),
    )
    shutil.copy(REPO / "dbt_project.yml", root / "dbt_project.yml")
    shutil.copytree(REPO / "macros", root / "macros")
    (root / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "demo.sh", root / "scripts" / "demo.sh")
    (root / ".venv").symlink_to(Path(sys.prefix))  # the venv whose orc runs this test
    return root


def masked(text: str, root: Path) -> str:
    text = text.replace(str(root), "<demo>")
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return text


def test_make_demo_tells_the_story_in_under_100_lines(tmp_path: Path) -> None:
    root = demo_copy(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORCHESTRA_", "DBT_"))}
    env = {k: v for k, v in env.items() if not k.startswith("TUTORIAL_")}
    result = subprocess.run(
        ["bash", "scripts/demo.sh"],
        cwd=root,
        env={**env, "DO_NOT_TRACK": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    assert len(output.splitlines()) < 100
    story = masked(output, root)
    if os.environ.get("ORC_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(story)
    assert story == GOLDEN.read_text()
