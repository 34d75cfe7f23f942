"""The wheel carries the dbt package that orc lends to projects without it: its
dbt_project.yml and every macro, as files (the links in orchestra_dbt_py/dbt_package/
followed), byte for byte as in the repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from zipfile import ZipFile

from tests.support.tutorial import REPO

SHIPPED = "orchestra_dbt_py/dbt_package"


def test_the_wheel_ships_the_dbt_package_macros(tmp_path: Path) -> None:
    # Built from a copy of what the wheel is made of, so the checkout gets no build folder.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "dbt_project.yml"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "macros", source / "macros")
    shutil.copytree(
        REPO / "orchestra_dbt_py",
        source / "orchestra_dbt_py",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("*.whl")
    expected = [REPO / "dbt_project.yml", *sorted((REPO / "macros").rglob("*.sql"))]
    assert len(expected) > 20
    with ZipFile(wheel) as archive:
        for path in expected:
            member = f"{SHIPPED}/{path.relative_to(REPO).as_posix()}"
            assert member in archive.namelist(), f"the wheel lacks {member}"
            assert archive.read(member) == path.read_bytes(), member
