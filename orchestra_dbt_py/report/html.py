"""The plan as one self-contained HTML page: the DAG, coloured by what orc decided and why.

`render_plan_html` is pure. It lays the DAG out here, in Python, in linear time per sweep:
each node's layer is its longest distance from a root, so every parent sits left of its
children, and a few barycentre sweeps order each layer to keep edges short. The page then
draws everything into a single SVG in one pass (one `innerHTML` for the nodes, one `<path>`
for all edges), so a 3,000-node plan renders without per-node layout work.

The page fetches nothing: CSS, script and data are inline. The page skeleton, its CSS and
its script live in `assets/` (package data, read with `importlib.resources`); the skeleton is
a `string.Template`, filled in one pass, so text put into one placeholder is never searched
for another. The data travels as JSON in a `<script type="application/json">` block with
`<`, `>` and `&` written as `\\u003c`-style escapes, so no text in a reason can close the
block or open a comment.
"""

from __future__ import annotations

import html
import json
import math
import shlex
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from orchestra_dbt_py.artifacts import replace_file
from orchestra_dbt_py.core.graph import FAILED_STATUSES
from orchestra_dbt_py.report.plan import describe_savings, describe_unmeasured

HTML_ARTIFACT = "orc_plan.html"

# How a node is drawn: its decision, unless it failed; a source the plan reads is drawn
# too (orc never builds one). Stroke and fill colours per state.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "build": ("#1d4ed8", "#dbeafe"),
    "reuse": ("#15803d", "#dcfce7"),
    "clone": ("#7e22ce", "#f3e8ff"),
    "failed": ("#b91c1c", "#fee2e2"),
    "source": ("#6b7280", "#f3f4f6"),
}
STATE_LABELS = {state: state for state in STATE_COLOURS}
STATE_GLYPHS = {
    "build": "\u25b8",
    "reuse": "\u2713",
    "clone": "\u29c9",
    "failed": "\u2715",
    "source": "\u25cb",
}

# One word per outcome, whatever dbt calls it for the kind of node (a model's `success` is a
# test's `pass`); the legend says which of dbt's statuses each word stands for.
OUTCOME_WORDS: dict[str, tuple[str, ...]] = {
    "passed": ("success", "pass"),
    "warned": ("warn",),
    "failed": tuple(sorted(FAILED_STATUSES)),
    "skipped": ("skipped",),
}

# The page's skeleton, style sheet and script, shipped as package data.
ASSETS_PACKAGE = "orchestra_dbt_py.report"
PAGE_ASSET = "plan.html"
CSS_ASSET = "plan.css"
SCRIPT_ASSET = "plan.js"


@dataclass(frozen=True)
class Placement:
    """Where a node goes: its layer (longest path from a root), grid column and row."""

    layer: int
    column: int
    row: float


def node_name(unique_id: str, resource_type: str | None = None) -> str:
    """The short name people search for: `model.shop.fct_orders` -> `fct_orders`.

    Sources keep their source name (`raw.orders`); a data test drops its trailing hash.
    """
    parts = unique_id.split(".")
    if len(parts) < 3:
        return unique_id
    kind = resource_type or parts[0]
    rest = parts[2:]
    if kind == "test" and len(rest) > 1:
        rest = rest[:-1]
    return ".".join(rest)


def outcome_word(status: str | None) -> str | None:
    """The page's word for dbt's `status` (see OUTCOME_WORDS); dbt's own when it has none."""
    if not status:
        return None
    for word, statuses in OUTCOME_WORDS.items():
        if status.lower() in statuses:
            return word
    return status


def node_state(node: Mapping[str, Any]) -> str:
    """`failed` for a node whose status is an error or failure, else its decision."""
    status = node.get("status")
    if isinstance(status, str) and status.lower() in FAILED_STATUSES:
        return "failed"
    decision = node.get("decision")
    return decision if decision in ("reuse", "clone") else "build"


def layout(
    node_ids: Iterable[str],
    edges: Iterable[tuple[str, str]],
    max_rows: int | None = None,
) -> dict[str, Placement]:
    """Place a DAG left to right by layer; deterministic whatever the input order.

    Layers come from a topological pass (Kahn's algorithm): a node's layer is one more
    than its deepest parent's. Within a layer, nodes are ordered by the mean position of
    their parents, then of their children, then of their parents again (three sweeps,
    each O(nodes + edges) plus a sort per layer). A layer taller than `max_rows` wraps into
    side-by-side sub-columns, interleaved so the vertical order is kept. Edges that name
    unknown nodes or loop on one node are ignored; nodes on a cycle (which dbt forbids)
    go to one extra layer at the end.
    """
    ids = sorted(set(node_ids))
    count = len(ids)
    if not count:
        return {}
    index = {uid: i for i, uid in enumerate(ids)}
    pairs = sorted(
        {
            (index[parent], index[child])
            for parent, child in edges
            if parent in index and child in index and parent != child
        }
    )
    parents: list[list[int]] = [[] for _ in range(count)]
    children: list[list[int]] = [[] for _ in range(count)]
    for parent, child in pairs:
        parents[child].append(parent)
        children[parent].append(child)

    layer_of = [0] * count
    waiting = [len(p) for p in parents]
    queue = deque(i for i in range(count) if not waiting[i])
    placed = [False] * count
    while queue:
        node = queue.popleft()
        placed[node] = True
        for child in children[node]:
            layer_of[child] = max(layer_of[child], layer_of[node] + 1)
            waiting[child] -= 1
            if not waiting[child]:
                queue.append(child)
    if not all(placed):
        extra = max((layer_of[i] for i in range(count) if placed[i]), default=-1) + 1
        for i in range(count):
            if not placed[i]:
                layer_of[i] = extra

    layers: list[list[int]] = [[] for _ in range(max(layer_of) + 1)]
    for i in range(count):
        layers[layer_of[i]].append(i)
    position = [0.0] * count

    def settle(members: list[int]) -> None:
        size = len(members)
        for rank, member in enumerate(members):
            position[member] = (rank + 0.5) / size

    def sweep(members: list[int], neighbours: list[list[int]]) -> None:
        def key(member: int) -> tuple[float, int]:
            near = neighbours[member]
            if not near:
                return (position[member], member)
            return (sum(position[n] for n in near) / len(near), member)

        members.sort(key=key)
        settle(members)

    for members in layers:
        settle(members)
    for members in layers[1:]:
        sweep(members, parents)
    for members in reversed(layers[:-1]):
        sweep(members, children)
    for members in layers[1:]:
        sweep(members, parents)

    # Tall rather than wide: the mouse wheel pans up and down.
    cap = max_rows or max(40, 2 * math.isqrt(count))
    shapes = []
    for members in layers:
        columns = max(1, math.ceil(len(members) / cap))
        shapes.append((columns, math.ceil(len(members) / columns)))
    tallest = max(rows for _, rows in shapes)
    placements: dict[str, Placement] = {}
    first_column = 0
    for layer, (members, (columns, rows)) in enumerate(zip(layers, shapes, strict=True)):
        offset = (tallest - rows) / 2
        for rank, member in enumerate(members):
            placements[ids[member]] = Placement(
                layer=layer,
                column=first_column + rank % columns,
                row=rank // columns + offset,
            )
        first_column += columns
    return placements


def plan_page_data(document: Mapping[str, Any], edges: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """What the page's script reads: nodes with their placement, edges as index pairs."""
    nodes: list[Mapping[str, Any]] = []
    seen: set[str] = set()
    for node in document.get("nodes", []):
        uid = str(node["unique_id"])
        if uid not in seen:
            seen.add(uid)
            nodes.append(node)
    for parent, _child in edges:
        if parent not in seen and parent.startswith("source."):
            seen.add(parent)
            reason = "a source: orc measures its data and never builds it"
            nodes.append({"unique_id": parent, "resource_type": "source", "reason": reason})
    placements = layout((str(n["unique_id"]) for n in nodes), edges)
    index = {str(n["unique_id"]): i for i, n in enumerate(nodes)}
    edge_pairs = sorted(
        {
            (index[parent], index[child])
            for parent, child in edges
            if parent in index and child in index and parent != child
        }
    )
    page_nodes = []
    for node in nodes:
        uid = str(node["unique_id"])
        resource_type = str(node.get("resource_type") or uid.split(".")[0])
        place = placements[uid]
        row: float | int = int(place.row) if place.row.is_integer() else place.row
        page_nodes.append(
            {
                "id": uid,
                "name": node_name(uid, resource_type),
                "type": resource_type,
                "decision": str(node.get("decision") or _default_decision(resource_type)),
                "state": "source" if resource_type == "source" else node_state(node),
                "status": outcome_word(node.get("status")),
                "reason": str(node.get("reason") or ""),
                "layer": place.layer,
                "col": place.column,
                "row": row,
            }
        )
    return {"nodes": page_nodes, "edges": [list(pair) for pair in edge_pairs]}


def _default_decision(resource_type: str) -> str:
    return "read" if resource_type == "source" else "build"


def embed_json(value: Any) -> str:
    """JSON that is safe inside a `<script>` element: no `<`, `>` or `&` appear literally."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def read_asset(name: str) -> str:
    """The text of one file in `orchestra_dbt_py/report/assets/`."""
    return (files(ASSETS_PACKAGE) / "assets" / name).read_text(encoding="utf-8")


@cache
def page_assets() -> tuple[Template, str, str]:
    """The page template, CSS and script, read once and checked to be safe to inline."""
    css = read_asset(CSS_ASSET)
    script = read_asset(SCRIPT_ASSET)
    if "</style" in css.lower():
        raise ValueError(f"{CSS_ASSET} must not contain '</style'")
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError(f"{SCRIPT_ASSET} must not contain '</script' or '<!--'")
    return Template(read_asset(PAGE_ASSET)), css, script


def render_plan_html(document: Mapping[str, Any], edges: Sequence[tuple[str, str]]) -> str:
    """The plan document and its DAG edges as one self-contained HTML page."""
    data = plan_page_data(document, edges)
    nodes = data["nodes"]
    summary: Mapping[str, Any] = document.get("summary") or {}
    build = int(summary.get("build", sum(n["decision"] == "build" for n in nodes)))
    reuse = int(summary.get("reuse", sum(n["decision"] == "reuse" for n in nodes)))
    clone = int(summary.get("clone", sum(n["decision"] == "clone" for n in nodes)))
    cloned = f", {clone} to clone" if clone else ""
    selected = int(summary.get("selected", len(nodes)))
    saved = float(summary.get("estimated_seconds_saved") or 0.0)
    esc = html.escape

    totals = (
        f"{selected} selected: {build} to build{cloned}, {reuse} to reuse; "
        f"{describe_savings(saved)}"
    )
    extra_lines = []
    unmeasured = [str(s) for s in summary.get("unmeasured_sources") or []]
    if unmeasured:
        extra_lines.append(f'<p class="note">{esc(describe_unmeasured(unmeasured))}</p>')
    by_name = [str(s) for s in summary.get("unmeasured_inputs") or []]
    if by_name:
        text = describe_unmeasured(by_name, ("input read by name", "inputs read by name"))
        extra_lines.append(f'<p class="note">{esc(text)}</p>')
    outcome: dict[str, int] = {}
    for node in nodes:
        if node["status"]:
            outcome[str(node["status"])] = outcome.get(str(node["status"]), 0) + 1
    if outcome:
        ran = ", ".join(f"{count} {esc(status)}" for status, count in sorted(outcome.items()))
        extra_lines.append(f'<p class="note">Outcome: {ran}</p>')
        words = "; ".join(
            f"{word}: dbt's {' or '.join(statuses)}" for word, statuses in OUTCOME_WORDS.items()
        )
        extra_lines.append(f'<p class="note">{esc(words)}</p>')

    args = [str(a) for a in document.get("args") or []]
    meta = [f"orc {esc(str(document.get('orc_version', '')))}"]
    if document.get("generated_at"):
        meta.append(f"generated {esc(str(document['generated_at']))}")
    if args:
        meta.append(f"<code>{esc(shlex.join(args))}</code>")
    if document.get("defers_to"):
        meta.append(f"defers to {esc(str(document['defers_to']))}")

    legend = "".join(
        f'<li><span class="swatch {state}" aria-hidden="true">{STATE_GLYPHS[state]}</span>'
        f"{STATE_LABELS[state]}</li>"
        for state in STATE_COLOURS
    )
    colours = "".join(
        f"--{state}:{stroke};--{state}-bg:{fill};"
        for state, (stroke, fill) in STATE_COLOURS.items()
    )
    title = f"orc plan: {selected} selected, {build} to build{cloned}, {reuse} to reuse"
    page, css, script = page_assets()
    return page.substitute(
        title=esc(title),
        colours=colours,
        css=css,
        meta=" \u00b7 ".join(meta),
        totals=esc(totals),
        extra="".join(extra_lines),
        legend=legend,
        data=embed_json(data),
        script=script,
    )


def write_plan_html(
    path: Path, document: Mapping[str, Any], edges: Sequence[tuple[str, str]]
) -> Path:
    """Write the page atomically (see artifacts.replace_file)."""
    return replace_file(path, render_plan_html(document, edges))
