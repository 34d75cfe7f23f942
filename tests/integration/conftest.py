"""Fixtures of the integration tests: the tutorial per test (tests/support/tutorial.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hooked import HookedProject, stage
from tests.support.prepared import PreparedProjects
from tests.support.tutorial import TARGETS, Project


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> PreparedProjects:
    return PreparedProjects(tmp_path_factory.mktemp("prepared"))


@pytest.fixture
def project(prepared: PreparedProjects, tmp_path: Path, target: str) -> Project:
    """The tutorial with its packages installed and batch 1 of raw data loaded."""
    return prepared.copy(target, "loaded", tmp_path)


@pytest.fixture
def stateful(prepared: PreparedProjects, tmp_path: Path, target: str) -> Project:
    """The same, with stateful orchestration on and an empty state file."""
    return prepared.copy(target, "stateful", tmp_path)


@pytest.fixture
def built(prepared: PreparedProjects, tmp_path: Path, target: str) -> Project:
    """The same after its first stateful `orc dbt build` (checked as a first build)."""
    return prepared.copy(target, "built", tmp_path)


@pytest.fixture(params=TARGETS)
def wh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HookedProject]:
    project = stage(tmp_path, str(request.param))
    yield project
    project.drop()
