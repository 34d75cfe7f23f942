"""The plan as one self-contained HTML page: the DAG, coloured by what orc decided and why.

`render_plan_html` is pure. It lays the DAG out here, in Python, in linear time per sweep:
each node's layer is its longest distance from a root, so every parent sits left of its
children, and a few barycentre sweeps order each layer to keep edges short. The page then
draws everything into a single SVG in one pass (one `innerHTML` for the nodes, one `<path>`
for all edges), so a 3,000-node plan renders without per-node layout work.

The page fetches nothing: CSS, script and data are inline. The data travels as JSON in a
`<script type="application/json">` block with `<`, `>` and `&` written as `\\u003c`-style
escapes, so no text in a reason can close the block or open a comment.
"""

from __future__ import annotations

import html
import json
import math
import shlex
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orchestra_dbt_py.artifacts import replace_file

HTML_ARTIFACT = "orc_plan.html"

# dbt statuses that mean the node failed; such nodes get their own colour.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})

# How a node is drawn: its decision, unless it failed. Stroke and fill colours per state.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "build": ("#1d4ed8", "#dbeafe"),
    "reuse": ("#15803d", "#dcfce7"),
    "failed": ("#b91c1c", "#fee2e2"),
}
STATE_LABELS = {"build": "build", "reuse": "reuse", "failed": "error / fail"}
STATE_GLYPHS = {"build": "\u25b8", "reuse": "\u2713", "failed": "\u2715"}


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


def node_state(node: Mapping[str, Any]) -> str:
    """`failed` for a node whose status is an error or failure, else its decision."""
    status = node.get("status")
    if isinstance(status, str) and status.lower() in FAILED_STATUSES:
        return "failed"
    return "reuse" if node.get("decision") == "reuse" else "build"


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
                "decision": str(node.get("decision") or "build"),
                "state": node_state(node),
                "status": node.get("status"),
                "reason": str(node.get("reason") or ""),
                "layer": place.layer,
                "col": place.column,
                "row": row,
            }
        )
    return {"nodes": page_nodes, "edges": [list(pair) for pair in edge_pairs]}


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


def describe_seconds(seconds: float) -> str:
    if seconds >= 90:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds:.1f} s"


def render_plan_html(document: Mapping[str, Any], edges: Sequence[tuple[str, str]]) -> str:
    """The plan document and its DAG edges as one self-contained HTML page."""
    data = plan_page_data(document, edges)
    nodes = data["nodes"]
    summary: Mapping[str, Any] = document.get("summary") or {}
    build = int(summary.get("build", sum(n["decision"] == "build" for n in nodes)))
    reuse = int(summary.get("reuse", sum(n["decision"] == "reuse" for n in nodes)))
    selected = int(summary.get("selected", len(nodes)))
    saved = float(summary.get("estimated_seconds_saved") or 0.0)
    esc = html.escape

    totals = (
        f"{selected} selected: {build} to build, {reuse} to reuse; "
        f"{describe_seconds(saved)} of execution avoided"
    )
    extra_lines = []
    unmeasured = [str(s) for s in summary.get("unmeasured_sources") or []]
    if unmeasured:
        extra_lines.append(
            f'<p class="note">{len(unmeasured)} source(s) have no measurable freshness and '
            f"count as changed on every run: {esc(', '.join(unmeasured))}</p>"
        )
    outcome: dict[str, int] = {}
    for node in nodes:
        if node["status"]:
            outcome[str(node["status"])] = outcome.get(str(node["status"]), 0) + 1
    if outcome:
        ran = ", ".join(f"{count} {esc(status)}" for status, count in sorted(outcome.items()))
        extra_lines.append(f'<p class="note">Outcome: {ran}</p>')

    args = [str(a) for a in document.get("args") or []]
    meta = [f"orc {esc(str(document.get('orc_version', '')))}"]
    if document.get("generated_at"):
        meta.append(f"generated {esc(str(document['generated_at']))}")
    if args:
        meta.append(f"<code>{esc(shlex.join(args))}</code>")

    legend = "".join(
        f'<li><span class="swatch {state}" aria-hidden="true">{STATE_GLYPHS[state]}</span>'
        f"{STATE_LABELS[state]}</li>"
        for state in STATE_COLOURS
    )
    colours = "".join(
        f"--{state}:{stroke};--{state}-bg:{fill};"
        for state, (stroke, fill) in STATE_COLOURS.items()
    )
    title = f"orc plan: {selected} selected, {build} to build, {reuse} to reuse"
    return _PAGE.format(
        title=esc(title),
        colours=colours,
        css=_CSS,
        meta=" \u00b7 ".join(meta),
        totals=esc(totals),
        extra="".join(extra_lines),
        legend=legend,
        data=embed_json(data),
        script=_SCRIPT,
    )


def write_plan_html(
    path: Path, document: Mapping[str, Any], edges: Sequence[tuple[str, str]]
) -> Path:
    """Write the page atomically (see artifacts.replace_file)."""
    return replace_file(path, render_plan_html(document, edges))


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
:root{{{colours}}}
{css}
</style>
</head>
<body>
<header>
<h1>orc plan</h1>
<p class="meta">{meta}</p>
<p id="totals">{totals}</p>
{extra}
<div class="toolbar">
<label for="q">Search nodes</label>
<input id="q" type="search" placeholder="name or unique id" autocomplete="off"
 aria-describedby="match-count">
<span id="match-count" role="status" aria-live="polite"></span>
<span class="zoom" role="group" aria-label="Zoom">
<button type="button" data-zoom="out" aria-label="Zoom out">\u2212</button>
<button type="button" data-zoom="reset" aria-label="Actual size">100%</button>
<button type="button" data-zoom="in" aria-label="Zoom in">+</button>
<button type="button" data-zoom="fit" aria-label="Fit the whole graph">Fit</button>
</span>
<ul class="legend" aria-label="Legend">{legend}</ul>
</div>
</header>
<main>
<div id="viewport" tabindex="0" aria-label="Plan graph: scroll or drag to pan">
<noscript><p class="empty">This page draws the plan with JavaScript.</p></noscript>
<svg id="graph" role="img" aria-label="The plan's DAG, left to right">
<g id="layers" aria-hidden="true"></g>
<path id="edges"></path>
<path id="focus-edges"></path>
<g id="nodes"></g>
</svg>
</div>
<aside id="details" aria-live="polite">
<h2>Details</h2>
<p class="hint">Click a node to see why orc builds or reuses it.</p>
</aside>
</main>
<script type="application/json" id="orc-plan-data">{data}</script>
<script>
{script}
</script>
</body>
</html>
"""

_CSS = """
*{box-sizing:border-box}
html,body{height:100%;margin:0}
body{display:flex;flex-direction:column;font:14px/1.4 system-ui,-apple-system,"Segoe UI",
 Roboto,sans-serif;color:#111827;background:#f8fafc}
header{padding:10px 16px 8px;border-bottom:1px solid #e2e8f0;background:#fff}
h1{font-size:18px;margin:0 0 2px}
h2{font-size:16px;margin:0 0 8px;word-break:break-all}
.meta{margin:0;color:#475569;font-size:12px}
.meta code{background:#f1f5f9;padding:0 4px;border-radius:3px}
#totals{margin:4px 0 0;font-weight:600}
.note{margin:2px 0 0;color:#92400e;font-size:13px}
.toolbar{display:flex;flex-wrap:wrap;align-items:center;gap:8px 12px;margin-top:8px}
.toolbar label{font-weight:600}
#q{width:22em;max-width:60vw;padding:4px 8px;border:1px solid #94a3b8;border-radius:4px;
 font:inherit}
#q:focus{outline:2px solid #7c3aed;outline-offset:1px}
#match-count{color:#475569;min-width:6em}
.zoom button{font:inherit;min-width:2.2em;padding:2px 6px;border:1px solid #94a3b8;
 background:#fff;border-radius:4px;cursor:pointer}
.legend{display:flex;gap:12px;list-style:none;margin:0 0 0 auto;padding:0}
.legend li{display:flex;align-items:center;gap:4px}
.swatch{display:inline-block;width:18px;height:14px;border-radius:3px;border:2px solid;
 font-size:10px;line-height:10px;text-align:center}
.swatch.build{border-color:var(--build);background:var(--build-bg);color:var(--build)}
.swatch.reuse{border-color:var(--reuse);background:var(--reuse-bg);color:var(--reuse)}
.swatch.failed{border-color:var(--failed);background:var(--failed-bg);color:var(--failed)}
main{flex:1;display:flex;min-height:0}
#viewport{flex:1;overflow:auto;position:relative;cursor:grab;background:#fff}
#viewport.dragging{cursor:grabbing}
#viewport:focus{outline:2px solid #7c3aed;outline-offset:-2px}
#graph{display:block}
.band{fill:#f1f5f9}
.layer-label{font-size:11px;fill:#64748b}
#edges{fill:none;stroke:#94a3b8;stroke-opacity:.6;stroke-width:1}
#focus-edges{fill:none;stroke:#111827;stroke-width:2}
.n{cursor:pointer}
.n rect{stroke-width:1.5}
.n text{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;pointer-events:none}
.n.build rect{fill:var(--build-bg);stroke:var(--build)}
.n.build text{fill:#172554}
.n.reuse rect{fill:var(--reuse-bg);stroke:var(--reuse)}
.n.reuse text{fill:#052e16}
.n.failed rect{fill:var(--failed-bg);stroke:var(--failed)}
.n.failed text{fill:#450a0a}
.n[data-status="skipped"] rect{stroke-dasharray:4 3}
.n:hover rect{stroke-width:2.5}
.searching .n{opacity:.3}
.searching #edges{stroke-opacity:.2}
.searching .n.match{opacity:1}
.n.match rect{stroke:#7c3aed;stroke-width:3}
.n.related rect{stroke-width:2.5}
.n.selected rect{stroke:#111827;stroke-width:3}
.searching .n.selected,.searching .n.related{opacity:1}
.empty{padding:24px;color:#475569}
#details{width:340px;flex:none;overflow:auto;padding:12px 16px;border-left:1px solid #e2e8f0;
 background:#fff}
#details dl{margin:0 0 12px}
#details dt{font-size:12px;color:#475569;margin-top:6px}
#details dd{margin:0;word-break:break-word;white-space:pre-wrap}
#details ul{list-style:none;padding:0;margin:0 0 8px}
#details li button{font:12px ui-monospace,Menlo,Consolas,monospace;background:none;border:0;
 padding:1px 0;color:#1d4ed8;cursor:pointer;text-align:left;word-break:break-all}
#details li button:hover{text-decoration:underline}
#details h3{font-size:13px;margin:10px 0 4px}
.hint{color:#475569}
@media (max-width:800px){main{flex-direction:column}#details{width:auto;height:40%;
 border-left:0;border-top:1px solid #e2e8f0}}
"""

_SCRIPT = r"""
(() => {
  "use strict";
  const started = performance.now();
  const NODE_W = 190, NODE_H = 22, ROW_H = 30, SUB_GAP = 14, LAYER_GAP = 64, LABEL_MAX = 25;
  const LEFT = 24, TOP = 40, BOTTOM = 24;
  const GLYPH = {build: "\u25b8", reuse: "\u2713", failed: "\u2715"};
  const data = JSON.parse(document.getElementById("orc-plan-data").textContent);
  const nodes = data.nodes, edges = data.edges, count = nodes.length;
  const viewport = document.getElementById("viewport");
  const svg = document.getElementById("graph");
  const edgeLayer = document.getElementById("edges");
  const focusLayer = document.getElementById("focus-edges");
  const nodeLayer = document.getElementById("nodes");
  const details = document.getElementById("details");
  const input = document.getElementById("q");
  const matchCount = document.getElementById("match-count");

  const esc = (text) => String(text).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  // A layer may span several sub-columns (the layout wraps tall layers): they sit close
  // together, and layers further apart, each on its own band.
  const firstCol = [], lastCol = [], layerSize = [];
  for (const d of nodes) {
    const l = d.layer;
    firstCol[l] = Math.min(firstCol[l] ?? d.col, d.col);
    lastCol[l] = Math.max(lastCol[l] ?? d.col, d.col);
    layerSize[l] = (layerSize[l] || 0) + 1;
  }
  const layerX = [], layerW = [];
  let width = LEFT, height = 0;
  for (let l = 0; l < firstCol.length; l++) {
    const subs = firstCol[l] === undefined ? 0 : lastCol[l] - firstCol[l] + 1;
    layerX[l] = width;
    layerW[l] = subs ? subs * NODE_W + (subs - 1) * SUB_GAP : 0;
    width += layerW[l] + (subs ? LAYER_GAP : 0);
  }
  width = Math.max(width - LAYER_GAP + LEFT, 2 * LEFT);
  const xs = new Float64Array(count), ys = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const d = nodes[i];
    xs[i] = layerX[d.layer] + (d.col - firstCol[d.layer]) * (NODE_W + SUB_GAP);
    ys[i] = TOP + d.row * ROW_H;
    height = Math.max(height, ys[i] + NODE_H + BOTTOM);
  }
  const xOf = (i) => xs[i];
  const yOf = (i) => ys[i];
  const curve = (p, c) => {
    const x1 = xOf(p) + NODE_W, y1 = yOf(p) + NODE_H / 2;
    const x2 = xOf(c), y2 = yOf(c) + NODE_H / 2, mid = (x1 + x2) / 2;
    return "M" + x1 + " " + y1 + "C" + mid + " " + y1 + " " + mid + " " + y2 + " " + x2 + " " + y2;
  };
  const tooltip = (d) => d.name + "\n" + d.type + ": " + d.decision +
    (d.status ? " (status: " + d.status + ")" : "") + "\n" + d.reason + "\n" + d.id;

  const parents = [], children = [], hay = new Array(count), markup = new Array(count);
  for (let i = 0; i < count; i++) {
    parents.push([]);
    children.push([]);
    const d = nodes[i], x = xOf(i), y = yOf(i);
    const label = d.name.length > LABEL_MAX ? d.name.slice(0, LABEL_MAX - 1) + "\u2026" : d.name;
    hay[i] = (d.name + "\n" + d.id).toLowerCase();
    markup[i] = '<g class="n ' + d.state + '" data-index="' + i + '" data-id="' + esc(d.id) +
      '" data-decision="' + esc(d.decision) + '"' +
      (d.status ? ' data-status="' + esc(d.status) + '"' : "") +
      ' transform="translate(' + x + " " + y + ')"><title>' + esc(tooltip(d)) +
      '</title><rect width="' + NODE_W + '" height="' + NODE_H + '" rx="4"></rect>' +
      '<text x="7" y="15">' + esc(GLYPH[d.state] + " " + label) + "</text></g>";
  }
  const paths = new Array(edges.length);
  for (let e = 0; e < edges.length; e++) {
    const p = edges[e][0], c = edges[e][1];
    children[p].push(c);
    parents[c].push(p);
    paths[e] = curve(p, c);
  }
  const bands = [];
  for (let l = 0; l < layerX.length; l++) {
    if (!layerW[l]) continue;
    if (l % 2) {
      bands.push('<rect class="band" x="' + (layerX[l] - LAYER_GAP / 2) + '" y="0" width="' +
        (layerW[l] + LAYER_GAP) + '" height="' + height + '"></rect>');
    }
    bands.push('<text class="layer-label" x="' + layerX[l] + '" y="' + (TOP - 14) + '">layer ' +
      l + " \u00b7 " + layerSize[l] + (layerSize[l] === 1 ? " node" : " nodes") + "</text>");
  }
  document.getElementById("layers").innerHTML = bands.join("");
  edgeLayer.setAttribute("d", paths.join(""));
  nodeLayer.innerHTML = markup.join("");
  const els = Array.from(nodeLayer.children);
  if (!count) {
    const empty = document.createElement("p");
    empty.className = "empty";
    empty.textContent = "No nodes selected.";
    viewport.replaceChildren(empty);
  }
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);

  let scale = 1;
  function applyScale(next, anchorX, anchorY) {
    next = Math.min(2, Math.max(0.05, next));
    const ax = anchorX ?? viewport.clientWidth / 2, ay = anchorY ?? viewport.clientHeight / 2;
    const gx = (viewport.scrollLeft + ax) / scale, gy = (viewport.scrollTop + ay) / scale;
    scale = next;
    svg.setAttribute("width", String(width * scale));
    svg.setAttribute("height", String(height * scale));
    viewport.scrollLeft = gx * scale - ax;
    viewport.scrollTop = gy * scale - ay;
  }
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));

  function centre(i) {
    const x = (xOf(i) + NODE_W / 2) * scale, y = (yOf(i) + NODE_H / 2) * scale;
    viewport.scrollLeft = x - viewport.clientWidth / 2;
    viewport.scrollTop = y - viewport.clientHeight / 2;
  }

  function field(list, term, value) {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    list.append(dt, dd);
  }
  function neighbourList(title, members) {
    const frag = document.createDocumentFragment();
    const h = document.createElement("h3");
    h.textContent = title + " (" + members.length + ")";
    const ul = document.createElement("ul");
    for (const j of members.slice(0, 200)) {
      const li = document.createElement("li"), b = document.createElement("button");
      b.type = "button";
      b.dataset.index = String(j);
      b.textContent = GLYPH[nodes[j].state] + " " + nodes[j].name;
      b.title = nodes[j].id;
      li.append(b);
      ul.append(li);
    }
    if (members.length > 200) {
      const li = document.createElement("li");
      li.textContent = "\u2026 and " + (members.length - 200) + " more";
      ul.append(li);
    }
    frag.append(h, ul);
    return frag;
  }
  function showDetails(i) {
    const h = document.createElement("h2");
    if (i < 0) {
      h.textContent = "Details";
      const p = document.createElement("p");
      p.className = "hint";
      p.textContent = "Click a node to see why orc builds or reuses it.";
      details.replaceChildren(h, p);
      return;
    }
    const d = nodes[i];
    h.textContent = d.name;
    const dl = document.createElement("dl");
    field(dl, "Decision", d.decision);
    field(dl, "Reason", d.reason || "-");
    field(dl, "Type", d.type);
    field(dl, "Status", d.status || "-");
    field(dl, "Unique id", d.id);
    details.replaceChildren(h, dl, neighbourList("Parents", parents[i]),
      neighbourList("Children", children[i]));
  }

  let selected = -1, related = [];
  function select(i, bringIntoView) {
    if (selected >= 0) els[selected].classList.remove("selected");
    for (const r of related) els[r].classList.remove("related");
    selected = i;
    related = i < 0 ? [] : parents[i].concat(children[i]);
    const parts = [];
    if (i >= 0) {
      els[i].classList.add("selected");
      for (const r of related) els[r].classList.add("related");
      for (const p of parents[i]) parts.push(curve(p, i));
      for (const c of children[i]) parts.push(curve(i, c));
      if (bringIntoView) centre(i);
    }
    focusLayer.setAttribute("d", parts.join(""));
    showDetails(i);
  }

  const isMatch = new Uint8Array(count);
  let matches = [], cursor = -1;
  function search(raw, bringIntoView) {
    const q = raw.trim().toLowerCase();
    matches = [];
    for (let i = 0; i < count; i++) {
      const hit = q !== "" && hay[i].includes(q) ? 1 : 0;
      if (hit !== isMatch[i]) {
        isMatch[i] = hit;
        els[i].classList.toggle("match", hit === 1);
      }
      if (hit) matches.push(i);
    }
    const rank = (i) => (nodes[i].name.toLowerCase() === q || nodes[i].id.toLowerCase() === q
      ? 0 : nodes[i].name.toLowerCase().startsWith(q) ? 1 : 2);
    matches.sort((a, b) => rank(a) - rank(b) || nodes[a].col - nodes[b].col ||
      nodes[a].row - nodes[b].row || a - b);
    svg.classList.toggle("searching", q !== "");
    matchCount.textContent = q === "" ? "" : matches.length === 0 ? "no match"
      : matches.length + (matches.length === 1 ? " match" : " matches") +
        (matches.length > 1 ? " (Enter for next)" : "");
    cursor = matches.length ? 0 : -1;
    if (cursor === 0 && bringIntoView) centre(matches[0]);
  }
  function step(backwards) {
    if (!matches.length) return;
    if (selected === matches[cursor]) {
      cursor = (cursor + (backwards ? matches.length - 1 : 1)) % matches.length;
    }
    select(matches[cursor], true);
  }

  function remember(q) {
    try {
      const url = q ? "#q=" + encodeURIComponent(q) : location.pathname + location.search;
      history.replaceState(null, "", url);
    } catch (err) {
      /* some browsers refuse history changes on file: pages; the search still works */
    }
  }
  function fromLocation() {
    const hash = location.hash.replace(/^#/, "");
    const fragment = new URLSearchParams(hash.includes("=") ? hash : "q=" + hash);
    const query = new URLSearchParams(location.search);
    const q = fragment.get("q") ?? query.get("q") ?? "";
    const node = fragment.get("node") ?? query.get("node");
    input.value = q;
    search(q, true);
    if (node) {
      const i = nodes.findIndex((d) => d.id === node);
      if (i >= 0) select(i, true);
    }
  }

  let pending = false;
  input.addEventListener("input", () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      search(input.value, true);
      remember(input.value.trim());
    });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      search(input.value, false);
      step(event.shiftKey);
    } else if (event.key === "Escape") {
      input.value = "";
      search("", false);
      remember("");
    }
  });
  window.addEventListener("hashchange", fromLocation);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && event.target !== input) select(-1, false);
    if (event.key === "/" && event.target !== input) {
      event.preventDefault();
      input.focus();
    }
  });

  nodeLayer.addEventListener("click", (event) => {
    const g = event.target.closest("g.n");
    if (g) select(Number(g.dataset.index), false);
  });
  details.addEventListener("click", (event) => {
    const b = event.target.closest("button[data-index]");
    if (b) select(Number(b.dataset.index), true);
  });
  for (const b of document.querySelectorAll("button[data-zoom]")) {
    b.addEventListener("click", () => {
      const how = b.dataset.zoom;
      if (how === "in") applyScale(scale * 1.25);
      else if (how === "out") applyScale(scale / 1.25);
      else if (how === "reset") applyScale(1);
      else applyScale(Math.min(1, viewport.clientWidth / width, viewport.clientHeight / height));
    });
  }
  viewport.addEventListener("wheel", (event) => {
    if (!event.ctrlKey) return;
    event.preventDefault();
    const box = viewport.getBoundingClientRect();
    applyScale(scale * (event.deltaY < 0 ? 1.15 : 1 / 1.15),
      event.clientX - box.left, event.clientY - box.top);
  }, {passive: false});

  let drag = null;
  viewport.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || !svg.contains(event.target) || event.target.closest("g.n")) return;
    drag = {x: event.clientX, y: event.clientY, left: viewport.scrollLeft,
      top: viewport.scrollTop, id: event.pointerId};
    viewport.setPointerCapture(event.pointerId);
    viewport.classList.add("dragging");
  });
  viewport.addEventListener("pointermove", (event) => {
    if (!drag || event.pointerId !== drag.id) return;
    viewport.scrollLeft = drag.left - (event.clientX - drag.x);
    viewport.scrollTop = drag.top - (event.clientY - drag.y);
  });
  const endDrag = () => {
    drag = null;
    viewport.classList.remove("dragging");
  };
  viewport.addEventListener("pointerup", endDrag);
  viewport.addEventListener("pointercancel", endDrag);

  fromLocation();
  const root = document.documentElement;
  root.dataset.renderMs = (performance.now() - started).toFixed(1);
  root.dataset.readyMs = performance.now().toFixed(1);
  root.dataset.rendered = String(count);
  requestAnimationFrame(() => requestAnimationFrame(() => {
    root.dataset.paintedMs = performance.now().toFixed(1);
  }));
})();
"""
