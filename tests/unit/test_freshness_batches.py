"""Freshness measured in batches (`sources_freshness`, one call per thread): a batch with a
source that cannot be measured is measured again one source at a time, so that the other
sources keep their times and the failing one is named with its error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from orchestra_dbt_py.dbt.command import parse_command
from orchestra_dbt_py.dbt.queries import Warehouse
from orchestra_dbt_py.dbt.session import DbtSession

pytestmark = pytest.mark.compat


@pytest.mark.parametrize("threads", [1, 2])
def test_a_failing_source_does_not_lose_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threads: int
) -> None:
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "dbt_project.yml").write_text(
        "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shop\n"
    )
    names = ["orders", "missing", "payments"]
    (project / "models" / "sources.yml").write_text(
        "sources:\n  - name: raw\n    schema: raw\n    loaded_at_field: loaded_at\n"
        "    tables:\n" + "".join(f"      - name: {name}\n" for name in names)
    )
    database = tmp_path / "shop.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema raw")
        for name, day in (("orders", 3), ("payments", 4)):
            connection.execute(
                f"create table raw.{name} as select timestamp '2026-01-0{day} 10:00' as loaded_at"
            )
    (tmp_path / "profiles.yml").write_text(
        f"shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {database}\n      schema: main\n      threads: {threads}\n"
    )
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.chdir(tmp_path)
    args = ["build", "--project-dir", str(project), "--profiles-dir", str(tmp_path)]
    session = DbtSession(parse_command([*args, "--log-path", str(tmp_path / "logs")]))
    found, errors = Warehouse(session).measure_freshness(
        f"source.shop.raw.{name}" for name in names
    )
    assert found == {
        "source.shop.raw.orders": datetime(2026, 1, 3, 10, tzinfo=UTC),
        "source.shop.raw.missing": None,
        "source.shop.raw.payments": datetime(2026, 1, 4, 10, tzinfo=UTC),
    }
    assert list(errors) == ["source.shop.raw.missing"]
    assert "missing" in errors["source.shop.raw.missing"]
