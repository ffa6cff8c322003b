"""The package keeps DESIGN.md's layering: every import of every module, read statically.

Layers, bottom up: the top-level helpers (errors, validation, seeding, distribution,
progress) 0, devices 1, crossbar 2, programming 3, mapping 4, periphery and chip 5, nn 6,
experiments, sweeps, report and reproduce 7, cli 8. A module imports only its own layer or
lower ones; within layer 7, report draws what experiments hands it and imports neither
experiments nor sweeps, experiments does not reach up into sweeps, and reproduce (the
one-run report over every experiment) may import experiments and report while none of
experiments, sweeps and report imports it; nothing below nn imports torch.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import xbarsim

PACKAGE = Path(xbarsim.__file__).parent
LAYER = {
    "devices": 1, "crossbar": 2, "programming": 3, "mapping": 4, "periphery": 5, "chip": 5,
    "nn": 6, "experiments": 7, "sweeps": 7, "report": 7, "reproduce": 7, "cli": 8,
}
#: (importing package, imported package) pairs forbidden although the layers allow them.
FORBIDDEN = {("report", "experiments"), ("report", "sweeps"), ("experiments", "sweeps"),
             ("experiments", "reproduce"), ("report", "reproduce"), ("sweeps", "reproduce")}


def _unit(module: str) -> str:
    """The layer unit of a dotted ``xbarsim`` module: its subpackage, or '' at top level."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYER) else ""


def imports_of(path: Path) -> list[str]:
    """Absolute module names ``path`` imports (relative imports resolved)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: -node.level]
                found.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.append(node.module)
    return found


def violations(path: Path) -> list[str]:
    """Imports of ``path`` that break the layering (empty when it keeps it)."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if module == "xbarsim.__init__":
        return []  # the package root re-exports the public API of every layer
    source = _unit(module)
    bad = []
    for name in imports_of(path):
        top = name.split(".")[0]
        if top == "torch" and LAYER.get(source, 0) < LAYER["nn"]:
            bad.append(f"{module} imports torch below nn")
        if top != "xbarsim":
            continue
        target = _unit(name)
        if LAYER.get(target, 0) > LAYER.get(source, 0):
            bad.append(f"{module} imports {name} (a higher layer)")
        if (source, target) in FORBIDDEN:
            bad.append(f"{module} imports {name} ({source} must not import {target})")
    return bad


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_keeps_the_layering(path: Path) -> None:
    assert violations(path) == []


def test_the_check_catches_upward_forbidden_and_torch_imports(tmp_path: Path, monkeypatch
                                                              ) -> None:
    """Planted modules that break each rule are reported (the check can fail)."""
    fake = tmp_path / "xbarsim"
    cases = {
        "devices/bad.py": "from xbarsim.crossbar import Crossbar\n",
        "crossbar/bad.py": "import torch\n",
        "report/bad.py": "from xbarsim.experiments import reproduce\n",
        "experiments/bad.py": "from ..sweeps import runner\n",
        "experiments/bad2.py": "from xbarsim.reproduce import runner\n",
        "reproduce/good.py": "from xbarsim.experiments import published\n"
                             "from xbarsim.report import verdicts\n",
        "errors_bad.py": "import xbarsim.devices\n",
        "nn/good.py": "import torch\nfrom xbarsim.mapping import ChipConfig\n",
    }
    for rel, text in cases.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    found = {rel: violations(fake / rel) for rel in cases}
    assert found["nn/good.py"] == [] and found["reproduce/good.py"] == []
    assert all(found[rel] for rel in cases if not rel.endswith("good.py")), found
    assert "must not import reproduce" in found["experiments/bad2.py"][0]
    assert "imports torch below nn" in found["crossbar/bad.py"][0]
    assert "must not import experiments" in found["report/bad.py"][0]


def _module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _module_graph(package: Path) -> dict[str, set[str]]:
    """Module -> the ``xbarsim`` modules it imports anywhere in its text (top level,
    inside functions, under ``TYPE_CHECKING``); ``from pkg import sub`` counts as ``pkg.sub``."""
    names = {_module_name(p, package) for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        module = _module_name(path, package)
        found: set[str] = set()
        base = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parent = base.split(".")[: len(base.split(".")) - node.level + 1]
                    name = ".".join(parent + ([node.module] if node.module else []))
                else:
                    name = node.module or ""
                for alias in node.names:
                    sub = f"{name}.{alias.name}"
                    found.add(sub if sub in names else name)
        graph[module] = {n for n in found if n in names and n != module}
    return graph


def import_cycles(package: Path) -> list[list[str]]:
    """Import cycles among the modules of one subpackage (each cycle once, as a path)."""
    graph = _module_graph(package)
    cycles: list[list[str]] = []
    for pkg in sorted({m.rsplit(".", 1)[0] for m in graph} | set(graph)):
        inner = {m: {n for n in e if n.rsplit(".", 1)[0] == pkg and n in graph}
                 for m, e in graph.items() if m.rsplit(".", 1)[0] == pkg}
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        stack: list[str] = []

        def strong(v: str, inner=inner, index=index, low=low, stack=stack) -> None:
            index[v] = low[v] = len(index)
            stack.append(v)
            for w in sorted(inner[v]):
                if w not in index:
                    strong(w)
                    low[v] = min(low[v], low[w])
                elif w in stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))

        for v in sorted(inner):
            if v not in index:
                strong(v)
    return cycles


def test_no_import_cycle_inside_a_package() -> None:
    assert import_cycles(PACKAGE) == []


def test_the_cycle_check_finds_planted_cycles(tmp_path: Path) -> None:
    fake = tmp_path / "xbarsim"
    cases = {
        "__init__.py": "",
        "nn/__init__.py": "",
        "nn/a.py": "from xbarsim.nn.b import x\n",
        "nn/b.py": "def f():\n    from xbarsim.nn import c\n",
        "nn/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .a import y\n",
        "nn/d.py": "from xbarsim.nn.a import x\n",
    }
    for rel, text in cases.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(text)
    assert import_cycles(fake) == [["xbarsim.nn.a", "xbarsim.nn.b", "xbarsim.nn.c"]]
