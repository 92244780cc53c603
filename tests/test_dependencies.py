"""pyproject.toml declares what the code imports: a module imported under explorer/ that no requirement names
works here (the suite's environment has it) and fails for a user whose pip never installed it, as Pillow and
onnx_ir once did. Upper bounds are the other way to break an install (a cap blocks every later release, patch
releases included), so each one says why it is there."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; 3.10 runs the rest of the suite

ROOT = Path(__file__).resolve().parents[1]


def _requirement_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_normal(_requirement_name(r)) for r in requirements}


def _imported_top_levels() -> dict[str, str]:
    """Every top-level module an ``import`` under explorer/ names (module level or inside a function), with one
    file that imports it."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "explorer").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], str(path.relative_to(ROOT)))
    return found


def test_every_third_party_module_the_code_imports_is_declared():
    declared = _declared()
    providers = importlib.metadata.packages_distributions()
    third_party = {m: f for m, f in _imported_top_levels().items()
                   if m not in sys.stdlib_module_names and m != "explorer"}
    assert {"torch", "PySide6", "PIL", "onnx_ir"} <= set(third_party)  # the scan sees lazy imports too
    undeclared = []
    for module, where in sorted(third_party.items()):
        distributions = {_normal(d) for d in providers.get(module, [])}
        assert distributions, f"{module} (imported by {where}) is not installed here, so its package is unknown"
        if not distributions & declared:
            undeclared.append(f"{module} ({where}; from {', '.join(sorted(distributions))})")
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_every_upper_bound_gives_its_reason():
    """A cap needs a comment on its line or the line above it (and a test that fails on what it keeps out)."""
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    capped = [(i, line) for i, line in enumerate(lines)
              if re.search(r'^\s*"[A-Za-z0-9_.\-\[\]]+[^"]*<', line) and "<" in line.split("#")[0]]
    assert capped, "PySide6 is capped; the scan must see it"
    unexplained = [line.strip() for i, line in capped
                   if "#" not in line and not lines[i - 1].strip().startswith("#")]
    assert not unexplained, f"caps without a reason: {unexplained}"
