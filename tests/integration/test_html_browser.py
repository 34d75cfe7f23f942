"""The HTML plan page in a real headless Chromium (Debian's `chromium` package).

No browser-driving package is needed: Chromium's own command line does the work.
`--dump-dom` prints the DOM after the page's script ran (`--virtual-time-budget` lets it
settle), `--screenshot` writes a PNG, and `--enable-logging=stderr` puts console messages,
uncaught errors included, on stderr. The search is driven through the `#q=` fragment the
page honours on load. Each check runs on a small plan and on a generated 3,000-node one.
"""

from __future__ import annotations

import random
import struct
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from orchestra_dbt_py.report.html import STATE_COLOURS, write_plan_html

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
ENSURE_CHROMIUM = REPO / "scripts" / "ensure-chromium.sh"
WINDOW = (1400, 900)
MATCH_STROKE = (0x7C, 0x3A, 0xED)  # the page's outline for search matches
NASTY = 'tricky </script><script>document.title="pwned"</script> <!-- not a comment & more'


# --- plans -----------------------------------------------------------------------------


def node(uid: str, decision: str, reason: str, status: str | None = None) -> dict[str, Any]:
    return {
        "unique_id": uid,
        "resource_type": uid.split(".")[0],
        "decision": decision,
        "reason": reason,
        "status": status,
    }


def document(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    build = sum(n["decision"] == "build" for n in nodes)
    return {
        "orc_version": "0.0.test",
        "generated_at": "2026-11-22T12:00:00Z",
        "args": ["build"],
        "nodes": nodes,
        "summary": {
            "selected": len(nodes),
            "build": build,
            "reuse": len(nodes) - build,
            "unmeasured_sources": [],
            "estimated_seconds_saved": 42.0,
        },
    }


def small_plan() -> tuple[dict[str, Any], list[tuple[str, str]]]:
    nodes = [
        node("source.shop.raw.orders", "build", "source data is newer than the last build"),
        node("source.shop.raw.customers", "reuse", "source unchanged"),
        node("model.shop.stg_orders", "build", "an upstream source changed", "success"),
        node("model.shop.stg_customers", "reuse", NASTY),
        node("model.shop.fct_orders", "build", "its SQL changed", "error"),
        node("model.shop.dim_customers", "reuse", "up to date"),
        node("test.shop.not_null_fct_orders_id.1a2b3c", "build", "its model builds", "skipped"),
    ]
    edges = [
        ("source.shop.raw.orders", "model.shop.stg_orders"),
        ("source.shop.raw.customers", "model.shop.stg_customers"),
        ("model.shop.stg_orders", "model.shop.fct_orders"),
        ("model.shop.stg_customers", "model.shop.fct_orders"),
        ("model.shop.stg_customers", "model.shop.dim_customers"),
        ("model.shop.fct_orders", "test.shop.not_null_fct_orders_id.1a2b3c"),
    ]
    return document(nodes), edges


def generated_plan(
    count: int = 3000, edge_count: int = 6000, seed: int = 7
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A layered DAG like a big dbt project: sources, staging, marts, tests.

    `model.big.fct_orders` sits in the lower right, far from where the page first shows,
    so finding it on screen proves the search scrolled to it.
    """
    rng = random.Random(seed)
    sizes = [300, 500, 450, 400, 350, 300, 250, 200, 150, 100]
    sizes[-1] += count - sum(sizes)
    layers: list[list[str]] = []
    for depth, size in enumerate(sizes):
        kind = "source.big.raw" if depth == 0 else "model.big"
        layers.append([f"{kind}.n{depth:02d}_{i:04d}" for i in range(size)])
    layers[-2][-1] = "model.big.fct_orders"
    edges: set[tuple[str, str]] = set()
    for depth in range(1, len(layers)):  # every non-root gets a parent one layer up
        for child in layers[depth]:
            edges.add((rng.choice(layers[depth - 1]), child))
    while len(edges) < edge_count:
        depth = rng.randrange(1, len(layers))
        parent = rng.choice(layers[rng.randrange(0, depth)])
        edges.add((parent, rng.choice(layers[depth])))
    nodes = []
    for uid in (uid for layer in layers for uid in layer):
        roll = rng.random()
        if uid.startswith("source."):  # read, never run: no status
            nodes.append(node(uid, "reuse" if roll < 0.55 else "build", "source data"))
        elif uid == "model.big.fct_orders":
            nodes.append(node(uid, "build", "its SQL changed", "error"))
        elif roll < 0.55:
            nodes.append(node(uid, "reuse", "up to date: no upstream data or code changed"))
        elif roll < 0.97:
            nodes.append(node(uid, "build", "an upstream source has newer data", "success"))
        else:
            nodes.append(node(uid, "build", "its SQL changed", rng.choice(["error", "fail"])))
    return document(nodes), sorted(edges)


# --- driving Chromium ----------------------------------------------------------------


@dataclass
class Run:
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="module")
def chromium() -> str:
    done = subprocess.run(
        ["bash", str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=1200
    )
    if done.returncode != 0:
        pytest.skip(done.stderr.strip() or f"ensure-chromium.sh exited {done.returncode}")
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def browse(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    def run(url: str, *extra: str) -> Run:
        profile = tmp_path_factory.mktemp("chromium-profile")
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=5000",
            *extra,
            url,
        ]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
        seconds = time.perf_counter() - started
        assert done.returncode == 0, f"chromium exited {done.returncode}:\n{done.stderr[-4000:]}"
        return Run(done.stdout, done.stderr, seconds)

    yield run


def console_problems(stderr: str) -> list[str]:
    """Console messages Chromium logged: uncaught errors, and anything the page printed."""
    return [line for line in stderr.splitlines() if "Uncaught" in line or "CONSOLE" in line]


class Elements(HTMLParser):
    """The start tags of a DOM dump, with their attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def nodes(self) -> list[dict[str, str]]:
        return [attrs for _, attrs in self.tags if "data-decision" in attrs]

    def root(self) -> dict[str, str]:
        return next(attrs for tag, attrs in self.tags if tag == "html")


def classes(attrs: dict[str, str]) -> set[str]:
    return set(attrs.get("class", "").split())


# --- PNG, with the standard library ---------------------------------------------------


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows (RGB or RGBA, 8 bits) of a PNG file."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    offset, chunks = 8, {}
    idat = bytearray()
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        if kind == b"IDAT":
            idat += body
        else:
            chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert depth == 8 and colour in (2, 6) and interlace == 0, "unexpected PNG format"
    channels = 4 if colour == 6 else 3
    raw = zlib.decompress(bytes(idat))
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 0xFF
        else:
            assert kind == 0, f"bad PNG filter {kind}"
        rows.append(bytes(line))
        previous = line
    return width, height, [_rgb(row, channels) for row in rows]


def _rgb(row: bytes, channels: int) -> bytes:
    if channels == 3:
        return row
    return b"".join(row[i : i + 3] for i in range(0, len(row), 4))


def colours(rows: list[bytes]) -> set[tuple[int, int, int]]:
    found: set[tuple[int, int, int]] = set()
    for row in rows:
        found.update(zip(row[0::3], row[1::3], row[2::3], strict=True))
    return found


def hex_rgb(value: str) -> tuple[int, int, int]:
    return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16))


# --- the checks ---------------------------------------------------------------------


PLANS = {"small": small_plan, "generated-3000": generated_plan}
QUERIES = {"small": "fct_orders", "generated-3000": "fct_orders"}


@pytest.fixture(scope="module", params=sorted(PLANS))
def page(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    doc, edges = PLANS[request.param]()
    path = write_plan_html(tmp_path_factory.mktemp("page") / "orc_plan.html", doc, edges)
    return request.param, doc, edges, path


def test_every_node_is_drawn_with_its_decision(browse: Any, page: Any, capsys: Any) -> None:
    name, doc, edges, path = page
    run = browse(path.as_uri(), "--dump-dom")
    dom = Elements(run.stdout)
    drawn = dom.nodes()
    assert len(drawn) == len(doc["nodes"])
    decisions = {attrs["data-id"]: attrs["data-decision"] for attrs in drawn}
    assert decisions == {n["unique_id"]: n["decision"] for n in doc["nodes"]}
    for decision in ("build", "reuse"):
        assert sum(a["data-decision"] == decision for a in drawn) == doc["summary"][decision]
    failed = {a["data-id"] for a in drawn if "failed" in classes(a)}
    assert failed == {n["unique_id"] for n in doc["nodes"] if n["status"] in ("error", "fail")}
    assert not [a for a in drawn if "match" in classes(a)], "nothing searched, nothing matched"
    assert console_problems(run.stderr) == []
    # A reason that tries to close the data block and retitle the page did neither.
    assert [t for t, _ in dom.tags].count("title") >= 1
    assert "pwned" not in run.stdout.split("</title>", 1)[0]
    root = dom.root()
    assert root.get("data-rendered") == str(len(doc["nodes"]))
    with capsys.disabled():
        print(
            f"\n[html plan {name}] {len(doc['nodes'])} nodes, {len(edges)} edges: "
            f"script {root.get('data-render-ms')} ms, ready {root.get('data-ready-ms')} ms "
            f"after navigation, painted {root.get('data-painted-ms')} ms; "
            f"headless chromium run {run.seconds:.2f} s wall"
        )


def test_search_from_the_url_highlights_the_match(browse: Any, page: Any) -> None:
    name, doc, _, path = page
    query = QUERIES[name]
    run = browse(f"{path.as_uri()}#q={query}", "--dump-dom")
    drawn = Elements(run.stdout).nodes()
    matched = {a["data-id"] for a in drawn if "match" in classes(a)}
    expected = {n["unique_id"] for n in doc["nodes"] if query in n["unique_id"]}
    assert expected and matched == expected
    assert console_problems(run.stderr) == []


def test_screenshot_shows_the_graph_and_scrolls_to_the_match(
    browse: Any, page: Any, tmp_path: Path
) -> None:
    name, doc, _, path = page
    shot = tmp_path / f"{name}.png"
    run = browse(
        f"{path.as_uri()}#q={QUERIES[name]}",
        f"--screenshot={shot}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    )
    assert console_problems(run.stderr) == []
    assert shot.is_file() and shot.stat().st_size > 5000
    width, height, rows = png_pixels(shot)
    assert (width, height) == WINDOW
    seen = colours(rows)
    assert len(seen) > 50, f"only {len(seen)} colours: a blank page?"
    states = {n["decision"] for n in doc["nodes"]} | {"failed"}
    for state in states:
        fill = hex_rgb(STATE_COLOURS[state][1])
        assert fill in seen, f"no {state} node on screen"
    # The match is drawn with its own outline: on screen only if the page scrolled to it.
    assert MATCH_STROKE in seen, "the searched node is not on screen"


def test_console_errors_are_caught(browse: Any, tmp_path: Path) -> None:
    """The console check above can fail: a page that throws is reported."""
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><title>broken</title><script>null.boom();</script>", encoding="utf-8"
    )
    run = browse(broken.as_uri(), "--dump-dom")
    assert any("Uncaught" in line for line in console_problems(run.stderr))
