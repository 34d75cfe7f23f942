"""The reason for a rebuild names what changed in the definition, on the tutorial (DuckDB):
its SQL, a config key, a macro, a var, edited one after another."""

from __future__ import annotations

import json

import pytest

from tests.support.tutorial import Project, full_key

LARGE = "model.jaffle_tutorial.fct_large_orders"
PAYMENTS = "model.jaffle_tutorial.stg_payments"


@pytest.fixture
def target() -> str:
    return "duckdb"


def rebuilt_because(project: Project, *args: str) -> dict[str, str]:
    """Build with the reasons printed; the reason of every node built, from the plan
    artifact, each checked to be printed too."""
    printed = project.orc("dbt", "build", *args, ORCHESTRA_DBT_DEBUG="true").stdout
    nodes = project.plan_artifact()["nodes"]
    reasons = {n["unique_id"]: n["reason"] for n in nodes if n["decision"] == "build"}
    for reason in reasons.values():
        assert reason in printed
    return reasons


def edit(project: Project, relative: str, old: str, new: str) -> None:
    path = project.dir / relative
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} should occur once in {relative}"
    path.write_text(text.replace(old, new))


def test_the_reason_names_the_part_that_changed(built: Project) -> None:
    document = json.loads(built.state_path.read_text())
    assert "sql" in document["state"][full_key(document, LARGE)]["definition"]

    edit(built, "models/marts/fct_large_orders.sql", "select *", "select *, 1 as one")
    assert rebuilt_because(built)[LARGE] == "definition changed: its SQL"

    marker = "  - name: fct_large_orders\n"
    edit(built, "models/marts/_marts.yml", marker, marker + "    config:\n      tags: [big]\n")
    assert rebuilt_because(built)[LARGE] == "definition changed: config tags"

    edit(built, "macros/cents_to_dollars.sql", "100.0", "100.00")
    # stg_payments is built because its unit test, which covers the model, must run.
    assert "definition changed: macro cents_to_dollars" in rebuilt_because(built)[PAYMENTS]

    reasons = rebuilt_because(built, "--vars", "{large_order_threshold: 80}")
    assert reasons[LARGE] == "definition changed: var large_order_threshold"
