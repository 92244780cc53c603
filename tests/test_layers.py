"""The layers hold (docs/architecture.md, "Layers"): read from the source's own imports, each package imports only
packages of lower layers, the core never imports Qt, only the command line imports argparse, the pure layers never
import torch, and no modules import each other in a circle. A new import that breaks a rule fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import explorer

ROOT = Path(explorer.__file__).parent
# Lowest first; a package may import the packages of lower layers only (not its siblings).
LAYERS = [("system", "resources"), ("config",), ("runs", "data", "models"), ("training",), ("analysis",), ("cli", "gui"),
          ("__main__",)]
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}
PURE = ("system", "config", "runs")  # no torch: the GUI imports them at start-up, before torch is loaded
QT = ("PySide6", "pyqtgraph", "shiboken6")


def _modules() -> dict[str, tuple[str, set[str]]]:
    """module name -> (its top package under explorer, the modules it imports)."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(p for p in parts if p != "__init__")
        package = parts[1] if len(parts) > 1 else "explorer"
        imported = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module)
                imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        found[name] = (package, imported)
    return found


MODULES = _modules()


def test_every_package_has_a_layer():
    packages = {package for package, _ in MODULES.values()} - {"explorer", "__init__"}
    assert packages <= set(RANK), f"packages without a layer (add them to LAYERS and docs/architecture.md): {packages - set(RANK)}"


def test_imports_only_go_down_the_layers():
    wrong = []
    for name, (package, imported) in MODULES.items():
        for target in imported:
            parts = target.split(".")
            if parts[0] != "explorer" or len(parts) < 2 or parts[1] == package or parts[1] not in RANK:
                continue
            if package in RANK and RANK[parts[1]] >= RANK[package]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports that run up or sideways: " + "; ".join(sorted(wrong))


def test_qt_only_in_the_gui_argparse_only_in_the_cli_torch_never_in_the_pure_layers():
    wrong = []
    for name, (package, imported) in MODULES.items():
        tops = {target.split(".")[0] for target in imported}
        if tops & set(QT) and package != "gui":
            wrong.append(f"{name} imports Qt")
        if "argparse" in tops and package != "cli":
            wrong.append(f"{name} imports argparse")
        if tops & {"torch", "torchvision"} and package in PURE:
            wrong.append(f"{name} imports {sorted(tops & {'torch', 'torchvision'})}")
    assert not wrong, "; ".join(sorted(wrong))


def test_no_modules_import_each_other_in_a_circle():
    graph = {name: {t for t in imported if t in MODULES and t != name} for name, (_, imported) in MODULES.items()}
    seen, on_path, circles = set(), [], []

    def visit(node: str) -> None:
        if node in on_path:
            circles.append(on_path[on_path.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        on_path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        on_path.pop()

    for name in sorted(graph):
        visit(name)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles[:5])


def test_the_rules_themselves_can_fail():
    """The checks above read real imports: a module of a lower layer importing a higher one is seen."""
    _, imported = MODULES["explorer.runs.folder"]
    assert "explorer.config.run" in imported
    assert RANK["config"] < RANK["runs"] < RANK["training"] < RANK["cli"]
