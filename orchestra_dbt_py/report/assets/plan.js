(() => {
  "use strict";
  const started = performance.now();
  const NODE_W = 190, NODE_H = 22, ROW_H = 30, SUB_GAP = 14, LAYER_GAP = 64, LABEL_MAX = 25;
  const LEFT = 24, TOP = 40, BOTTOM = 24;
  const GLYPH = {build: "\u25b8", reuse: "\u2713", clone: "\u29c9", failed: "\u2715", source: "\u25cb"};
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
    (d.status ? " (outcome: " + d.status + ")" : "") + "\n" + d.reason + "\n" + d.id;

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
      p.textContent = "Click a node to see why orc builds, clones or reuses it.";
      details.replaceChildren(h, p);
      return;
    }
    const d = nodes[i];
    h.textContent = d.name;
    const dl = document.createElement("dl");
    field(dl, "Decision", d.decision);
    field(dl, "Reason", d.reason || "-");
    field(dl, "Type", d.type);
    field(dl, "Outcome", d.status || "-");
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
