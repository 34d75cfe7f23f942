"""The HTML plan page, read as text: what it embeds, how it escapes, where nodes go."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py import files
from orchestra_dbt_py.report.html import (
    STATE_COLOURS,
    layout,
    node_name,
    node_state,
    render_plan_html,
    write_plan_html,
)

REPO = Path(__file__).resolve().parents[2]
DATA_BLOCK = re.compile(
    r'<script type="application/json" id="orc-plan-data">(.*?)</script>', re.DOTALL
)
HOSTILE = "x </script><script>alert(1)</script> </SCRIPT > <!-- y --> & \u2028 done"

SRC = "source.shop.raw.orders"
STG = "model.shop.stg_orders"
CUST = "model.shop.stg_customers"
FCT = "model.shop.fct_orders"
DIM = "model.shop.dim_customers"
REPORT = "model.shop.report"
TEST = "test.shop.not_null_fct_orders_id.1a2b3c"
SEED = "seed.shop.statuses"

EDGES = [
    (SRC, STG),
    (STG, FCT),
    (CUST, FCT),
    (CUST, DIM),
    (FCT, REPORT),
    (DIM, REPORT),
    (STG, REPORT),  # a shortcut: REPORT's layer follows the longest path, not this one
    (FCT, TEST),
]


def node(uid: str, decision: str, reason: str = "why", status: str | None = None) -> dict:
    return {
        "unique_id": uid,
        "resource_type": uid.split(".")[0],
        "decision": decision,
        "reason": reason,
        "status": status,
    }


def plan_document(nodes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    nodes = nodes or [
        node(STG, "build", "an upstream source changed", "success"),
        node(CUST, "reuse", HOSTILE),
        node(FCT, "build", "its SQL changed", "error"),
        node(DIM, "clone", "clone of prod.dim_customers: same definition, its data current"),
        node(REPORT, "build", "a parent builds", "fail"),
        node(TEST, "build", "its model builds", "skipped"),
        node(SEED, "reuse", "seed file unchanged", "runtime error"),
    ]
    build = sum(n["decision"] == "build" for n in nodes)
    return {
        "orc_version": "0.1.0",
        "generated_at": "2026-11-22T12:00:00Z",
        "args": ["build", "--select", "+report"],
        "nodes": nodes,
        "summary": {
            "selected": len(nodes),
            "build": build,
            "reuse": sum(n["decision"] == "reuse" for n in nodes),
            "clone": sum(n["decision"] == "clone" for n in nodes),
            "unmeasured_sources": [SRC],
            "estimated_seconds_saved": 125.0,
        },
    }


def embedded(page: str) -> dict[str, Any]:
    blocks = DATA_BLOCK.findall(page)
    assert len(blocks) == 1
    data: dict[str, Any] = json.loads(blocks[0])
    return data


def test_the_page_embeds_every_node_once() -> None:
    doc = plan_document()
    page = render_plan_html(doc, EDGES)
    data = embedded(page)
    # The sources planned nodes read are drawn after them.
    assert [n["id"] for n in data["nodes"]] == [n["unique_id"] for n in doc["nodes"]] + [SRC]
    for n in doc["nodes"]:
        assert page.count(json.dumps(n["unique_id"])) == 1, n["unique_id"]
    pairs = {(data["nodes"][p]["id"], data["nodes"][c]["id"]) for p, c in data["edges"]}
    assert pairs == set(EDGES)


def test_a_repeated_node_or_unknown_edge_is_dropped() -> None:
    doc = plan_document([node(STG, "build"), node(STG, "reuse"), node(FCT, "reuse")])
    data = embedded(render_plan_html(doc, [(STG, FCT), ("model.x.gone", FCT), (FCT, FCT)]))
    assert [(n["id"], n["decision"]) for n in data["nodes"]] == [(STG, "build"), (FCT, "reuse")]
    assert data["edges"] == [[0, 1]]


def test_each_node_carries_its_decision_and_colour() -> None:
    doc = plan_document()
    page = render_plan_html(doc, EDGES)
    data = embedded(page)
    states = {n["id"]: (n["decision"], n["state"]) for n in data["nodes"]}
    assert states == {
        SRC: ("read", "source"),  # not planned, drawn because a planned node reads it
        STG: ("build", "build"),
        CUST: ("reuse", "reuse"),
        FCT: ("build", "failed"),
        DIM: ("clone", "clone"),
        REPORT: ("build", "failed"),
        TEST: ("build", "build"),  # skipped is not a failure
        SEED: ("reuse", "failed"),
    }
    strokes = [stroke for stroke, _ in STATE_COLOURS.values()]
    fills = [fill for _, fill in STATE_COLOURS.values()]
    assert len(set(strokes)) == len(set(fills)) == len(STATE_COLOURS) == 5
    for state, (stroke, fill) in STATE_COLOURS.items():
        assert f"--{state}:{stroke};--{state}-bg:{fill};" in page
        assert f".n.{state} rect{{fill:var(--{state}-bg);stroke:var(--{state})}}" in page
        assert f'class="swatch {state}"' in page


def test_node_state_and_name() -> None:
    assert node_state({"decision": "reuse", "status": None}) == "reuse"
    assert node_state({"decision": "reuse", "status": "ERROR"}) == "failed"
    assert node_state({"decision": "build", "status": "success"}) == "build"
    assert node_name(FCT) == "fct_orders"
    assert node_name(SRC) == "raw.orders"
    assert node_name(TEST) == "not_null_fct_orders_id"
    assert node_name("unit_test.shop.fct_orders.counts_rows") == "fct_orders.counts_rows"
    assert node_name("odd") == "odd"


def test_script_and_comment_openers_in_reasons_are_escaped() -> None:
    doc = plan_document()
    doc["args"] = ["build", "--vars", "{x: '</script><b>'}"]
    doc["generated_at"] = "<!-- now -->"
    page = render_plan_html(doc, EDGES)
    # Only the page's own two script elements close, and nothing opens a comment.
    assert len(re.findall(r"</script", page, re.IGNORECASE)) == 2
    assert "<!--" not in page
    assert "<b>" not in page
    assert "\u2028" not in page
    reasons = {n["id"]: n["reason"] for n in embedded(page)["nodes"]}
    assert reasons[CUST] == HOSTILE


def test_the_page_is_self_contained() -> None:
    page = render_plan_html(plan_document(), EDGES)
    assert not re.search(r"https?://", page, re.IGNORECASE)
    for reference in ("src=", "href=", "@import", "url(", "<link", "<iframe"):
        assert reference not in page.lower(), reference
    assert page.count("<script") == 2


def test_the_page_has_a_title_a_labelled_search_box_and_the_totals() -> None:
    page = render_plan_html(plan_document(), EDGES)
    totals = "7 selected, 4 to build, 1 to clone, 2 to reuse"
    assert re.search(rf"<title>orc plan: {totals}</title>", page)
    assert '<label for="q">' in page and '<input id="q" type="search"' in page
    assert (
        "7 selected: 4 to build, 1 to clone, 2 to reuse; "
        "about 2 min of wall-clock time avoided (estimate)" in page
    )
    assert (
        "1 source has no measurable data version and counts as changed on every run: "
        "source.shop.raw.orders" in page
    )
    # One word per meaning, whatever dbt called it; the legend says which word is which.
    assert "Outcome: 3 failed, 1 passed, 1 skipped" in page
    assert "passed: dbt&#x27;s success or pass; warned: dbt&#x27;s warn; failed: " in page


def test_the_header_says_which_target_the_run_defers_to() -> None:
    assert "defers to" not in render_plan_html(plan_document(), EDGES)
    page = render_plan_html({**plan_document(), "defers_to": "<prod>"}, EDGES)
    assert "defers to &lt;prod&gt;" in page


def test_layers_put_parents_left_of_children() -> None:
    places = layout([SRC, STG, CUST, FCT, DIM, REPORT, TEST, SEED], EDGES)
    layers = {uid: place.layer for uid, place in places.items()}
    assert layers == {
        SRC: 0,
        CUST: 0,
        SEED: 0,
        STG: 1,
        DIM: 1,
        FCT: 2,
        REPORT: 3,
        TEST: 3,
    }
    for parent, child in EDGES:
        assert places[parent].column < places[child].column
    # The page carries the same layers and columns.
    data = embedded(render_plan_html(plan_document(), EDGES))
    for n in data["nodes"]:
        assert (n["layer"], n["col"]) == (places[n["id"]].layer, places[n["id"]].column)


def test_within_a_layer_children_line_up_with_their_parents() -> None:
    edges = [("m.p.a", "m.p.z_child_of_a"), ("m.p.b", "m.p.y_child_of_b")]
    places = layout(["m.p.a", "m.p.b", "m.p.y_child_of_b", "m.p.z_child_of_a"], edges)
    assert places["m.p.a"].row < places["m.p.b"].row
    assert places["m.p.z_child_of_a"].row < places["m.p.y_child_of_b"].row


def test_a_tall_layer_wraps_into_sub_columns() -> None:
    roots = [f"model.p.root_{i}" for i in range(7)]
    places = layout([*roots, "model.p.child"], [(r, "model.p.child") for r in roots], 3)
    assert sorted({places[r].column for r in roots}) == [0, 1, 2]
    assert max(places[r].row for r in roots) == 2
    assert places["model.p.child"].layer == 1
    assert places["model.p.child"].column == 3


def test_a_cycle_does_not_stop_the_layout() -> None:
    places = layout(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "b"), ("c", "d")])
    assert places["a"].layer == 0
    assert {places[u].layer for u in "bcd"} == {1}


def test_a_long_chain_lays_out() -> None:
    ids = [f"model.p.m{i:05d}" for i in range(5000)]
    places = layout(ids, list(itertools.pairwise(ids)))
    assert [places[u].layer for u in ids] == list(range(5000))


def test_the_output_is_stable() -> None:
    doc = plan_document()
    first = render_plan_html(doc, EDGES)
    assert render_plan_html(doc, EDGES) == first
    shuffled = {**doc, "nodes": list(reversed(doc["nodes"]))}
    places = {n["id"]: (n["col"], n["row"]) for n in embedded(first)["nodes"]}
    again = embedded(render_plan_html(shuffled, list(reversed(EDGES))))
    assert {n["id"]: (n["col"], n["row"]) for n in again["nodes"]} == places


def test_the_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    script = (
        "import json, sys\n"
        "from orchestra_dbt_py.report.html import render_plan_html\n"
        "doc, edges = json.load(open(sys.argv[1]))\n"
        "sys.stdout.write(render_plan_html(doc, [tuple(e) for e in edges]))\n"
    )
    many = [f"model.p.n{i}" for i in range(60)]
    edges = [(many[i], many[j]) for i in range(60) for j in (i * 7 % 60, i * 13 % 60) if i < j]
    doc = plan_document([node(uid, "build" if i % 3 else "reuse") for i, uid in enumerate(many)])
    source = tmp_path / "plan.json"
    source.write_text(json.dumps([doc, edges]))
    pages = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", script, str(source)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        pages.append(done.stdout)
    assert pages[0] == pages[1] == pages[2]
    assert pages[0] == render_plan_html(doc, edges)


def test_write_plan_html_replaces_the_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "target" / "orc_plan.html"
    assert write_plan_html(target, plan_document(), EDGES) == target
    assert target.read_text(encoding="utf-8") == render_plan_html(plan_document(), EDGES)
    smaller = plan_document([node(FCT, "reuse")])
    write_plan_html(target, smaller, [])
    assert target.read_text(encoding="utf-8") == render_plan_html(smaller, [])
    assert sorted(p.name for p in target.parent.iterdir()) == ["orc_plan.html"]


def test_a_failed_write_keeps_the_old_page(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "orc_plan.html"
    target.write_text("old page", encoding="utf-8")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_plan_html(target, plan_document(), EDGES)
    assert target.read_text(encoding="utf-8") == "old page"
    assert [p.name for p in tmp_path.iterdir()] == ["orc_plan.html"]
