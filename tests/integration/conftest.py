"""Fixtures of the integration tests: the tutorial per test (tests/support/tutorial.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hooked import TARGETS as HOOKED_TARGETS
from tests.support.hooked import HookedProject, stage
from tests.support.tutorial import TARGETS, Project, make_project


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def project(tmp_path: Path, target: str) -> Iterator[Project]:
    """The tutorial with its packages installed and batch 1 of raw data loaded."""
    proj = make_project(tmp_path, target)
    proj.orc("dbt", "deps", "--quiet", expect=0)
    proj.orc("dbt", "run-operation", "load_raw_data", expect=0)
    yield proj
    if target == "postgres":
        for schema in (proj.schema, f"{proj.schema}_raw", f"{proj.schema}_ref"):
            proj.execute(f'drop schema if exists "{schema}" cascade')


@pytest.fixture
def stateful(project: Project) -> Project:
    """The same, with stateful orchestration on and an empty state file."""
    project.env["ORCHESTRA_USE_STATEFUL"] = "true"
    project.orc("state", "init")
    return project


@pytest.fixture(params=HOOKED_TARGETS)
def wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HookedProject]:
    project = stage(tmp_path, str(request.param))
    yield project
    project.drop()
