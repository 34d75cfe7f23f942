"""The house rules of the package's imports (docs/design.md, "Layout"): the decision core
imports no edge, and no two parts of the package import each other."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "orchestra_dbt_py"
NAME = "orchestra_dbt_py"
# What the core may import from the package besides itself.
CORE_MAY_IMPORT = {f"{NAME}.errors"}


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, name: str) -> Iterator[str]:
    """Every module `path` imports, at any depth of the file (lazy imports count too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            # `from package import module` imports that module too.
            for alias in node.names:
                yield f"{module}.{alias.name}"


def part_of(module: str) -> str | None:
    """The package part a module belongs to: `core`, `dbt`, `state`, `cli`..."""
    if not module.startswith(f"{NAME}."):
        return None
    return module.split(".")[1]


def internal_imports() -> dict[str, set[str]]:
    known = modules()
    return {
        name: {m for m in imports_of(path, name) if m in known and m != name}
        for name, path in known.items()
    }


def test_the_core_imports_only_the_standard_library_and_itself() -> None:
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for name, path in modules().items():
        if part_of(name) != "core":
            continue
        for module in set(imports_of(path, name)):
            top = module.split(".")[0]
            # `from orchestra_dbt_py.errors import OrcError` also yields
            # `orchestra_dbt_py.errors.OrcError`: a name inside an allowed module is allowed.
            allowed = {module, module.rsplit(".", 1)[0]} & CORE_MAY_IMPORT
            if top == NAME:
                if part_of(module) != "core" and not allowed:
                    offenders.append(f"{name} imports {module}")
            elif top not in stdlib and top != "__future__":
                offenders.append(f"{name} imports {module}")
    assert offenders == []


def test_the_parts_of_the_package_import_each_other_one_way_only() -> None:
    edges: dict[str, set[str]] = {}
    for name, imported in internal_imports().items():
        source = part_of(name)
        for module in imported:
            target = part_of(module)
            if source and target and source != target:
                edges.setdefault(source, set()).add(target)
    cycles = sorted(
        f"{a} <-> {b}" for a, targets in edges.items() for b in targets if a in edges.get(b, ())
    )
    assert cycles == [], edges
    assert _cycle(edges) is None


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return [*path, node, target]
            if target not in state:
                found = visit(target, [*path, node])
                if found:
                    return found
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node, [])
            if found:
                return found
    return None


@pytest.mark.parametrize(
    "module",
    [
        f"{NAME}.core.planner",
        f"{NAME}.core.document",
        f"{NAME}.core.finished",
        f"{NAME}.core.keys",
    ],
)
def test_importing_the_core_loads_no_edge(module: str) -> None:
    """The same rule, checked on what Python really loads in a fresh interpreter."""
    script = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True
        ).stdout
    )
    ours = {m for m in loaded if m.startswith(f"{NAME}.")}
    assert {m for m in ours if part_of(m) != "core"} <= CORE_MAY_IMPORT
    for forbidden in ("dbt", "requests", "boto3", "click", "fcntl", "tomllib"):
        assert forbidden not in loaded, f"{module} loads {forbidden}"


def test_a_core_module_importing_an_edge_is_caught(tmp_path: Path) -> None:
    """The check above can fail: a core module with an edge import is reported."""
    fake = tmp_path / "bad.py"
    fake.write_text("from orchestra_dbt_py.state import open_backend\nimport dbt.version\n")
    found = set(imports_of(fake, f"{NAME}.core.bad"))
    assert f"{NAME}.state" in found and "dbt.version" in found
    assert part_of(f"{NAME}.state") != "core"


TESTS = Path(__file__).resolve().parents[1]


def modules_of_tests() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if p.name.startswith(("test_", "conftest")))


def test_tests_are_a_package_importing_only_support() -> None:
    """Test modules share code through tests/support/, never by importing each other or by
    editing the import path."""
    offenders = []
    for path in modules_of_tests():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "path"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sys"
            ):
                offenders.append(f"{path.relative_to(TESTS)} uses sys.path")
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for name in names:
                leaf = name.rsplit(".", 1)[-1]
                from_tests = name.split(".")[0] == "tests" and not name.startswith("tests.support")
                if leaf.startswith(("test_", "conftest")) or from_tests:
                    offenders.append(f"{path.relative_to(TESTS)} imports {name}")
    for folder in (TESTS, TESTS / "unit", TESTS / "integration", TESTS / "support"):
        if not (folder / "__init__.py").exists():
            offenders.append(f"{folder.relative_to(TESTS.parent)} is not a package")
    assert offenders == []
