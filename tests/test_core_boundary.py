"""The Qt-free core imports no Qt, and the CLI's summary keeps the JSON contract (docs/architecture.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import explorer

CORE = ["explorer", "explorer.config.run", "explorer.models", "explorer.models.summary", "explorer.config.paper", "explorer.cli.main",
        "explorer.__main__"]


def _core_modules() -> list[str]:
    root = Path(explorer.__file__).parent
    found = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if "gui" in parts:
            continue
        found.append(".".join(p for p in parts if p != "__init__"))
    return sorted(set(found) | set(CORE))


def test_core_imports_no_qt():
    modules = _core_modules()
    assert {"explorer.config.run", "explorer.models.blocks", "explorer.models.summary"} <= set(modules)
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], capture_output=True, text=True, timeout=120)


def test_summary_json_contract():
    result = _cli("summary", "--depth", "56", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["input_shape"] == [1, 3, 32, 32]
    assert data["total_params"] == data["trainable_params"] == 853018
    assert data["total_macs"] == 125485696 and data["total_flops"] == 2 * data["total_macs"]
    assert data["model"]["depth"] == 56 and data["model"]["shortcut"] == "A"
    layer = next(row for row in data["layers"] if row["name"] == "layer1.0.conv1")
    assert layer == {**layer, "type": "Conv2d", "depth": 3, "output_shape": [1, 16, 32, 32], "params": 2304,
                     "macs": 2304 * 1024}


def test_summary_table_is_readable():
    result = _cli("summary", "--family", "imagenet", "--depth", "50")
    assert result.returncode == 0, result.stderr
    assert "resnet-50" in result.stdout and "25,557,032" in result.stdout and "layer4" in result.stdout
    assert "FLOPs (2×MACs)" in result.stdout


def test_bad_option_exits_2_with_one_sentence():
    result = _cli("summary", "--depth", "21")
    assert result.returncode == 2
    assert "depth 21 is not 6n+2" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = _cli("summary", "--shortcut", "D")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_console_script_is_installed():
    """README's install command installs `resnet-explorer`; CI runs it from a fresh venv."""
    script = Path(sys.executable).parent / "resnet-explorer"
    script = script if script.exists() else shutil.which("resnet-explorer")
    assert script, "resnet-explorer is not installed next to this Python"
    result = subprocess.run([str(script), "summary", "--depth", "56", "--json"], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["total_params"] == 853018
