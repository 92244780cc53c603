"""The package as users get it: a wheel (or an sdist) built from this tree, installed - not editable - into a
fresh environment, outside the checkout. An editable install hides a module or data file the wheel lacks (round 2
shipped a wheel without ``explorer.analysis``: the app died at start-up); these tests do not.

The fresh environment borrows the third-party packages (torch, PySide6, …) of the environment running the suite
through a ``.pth`` line, so nothing is downloaded; ``explorer`` itself comes only from the installed wheel, which
every test asserts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORED_PARTS = {"__pycache__"}


def _tree_files(top: str) -> set[str]:
    """The files under ``top`` of the source tree (relative, with '/'), caches left out."""
    found = set()
    for path in (ROOT / top).rglob("*"):
        if path.is_file() and not IGNORED_PARTS & set(path.parts) and path.suffix not in (".pyc", ".pyo"):
            found.add(path.relative_to(ROOT).as_posix())
    return found


def _build(kind: str, out: Path) -> Path:
    """Build a wheel or an sdist of this tree with setuptools, as pip would (no network: the suite's setuptools),
    from a clean copy: a ``build/`` folder left in the checkout would hand the wheel files the tree's
    configuration no longer includes."""
    source = out / "source"
    anywhere = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = {".git", ".venv", "venv", "build", "dist", ".pytest_cache", ".hypothesis", "runs"}
        return set(anywhere(folder, names)) | (top & set(names) if Path(folder) == ROOT else set())

    shutil.copytree(ROOT, source, ignore=ignore)
    code = ("import sys; from setuptools import build_meta as b; "
            f"print(b.build_{kind}(sys.argv[1]))")
    result = subprocess.run([sys.executable, "-c", code, str(out)], cwd=source, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return _build("wheel", tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_every_module_and_data_file_of_the_tree(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(_tree_files("explorer") - names)
    assert not missing, f"the wheel lacks {len(missing)} file(s) of explorer/: {missing[:10]}"


def test_the_sdist_can_run_the_tests(tmp_path):
    """An sdist is what distributions build and test from: it carries the tests with their fixtures and folders."""
    sdist = _build("sdist", tmp_path)
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {n[len(top) + 1:] for n in tar.getnames() if n.startswith(top + "/")}
    wanted = _tree_files("explorer") | _tree_files("tests") | {"pyproject.toml", "README.md", "LICENSE"}
    missing = sorted(wanted - names)
    assert not missing, f"the sdist lacks {len(missing)} file(s): {missing[:10]}"


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh environment with the wheel installed as a user installs it; returns its bin folder."""
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # The third-party packages of this environment, appended after the fresh one's own site-packages. Folders
    # named in a .pth line are only added to the path: their own .pth files (this checkout's editable install
    # among them) are not run, so `explorer` can come from nowhere but the wheel.
    borrowed = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "_borrowed_dependencies.pth").write_text("\n".join(sorted(borrowed)) + "\n")
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                             "--no-index", "--ignore-installed", "--quiet", str(wheel)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return bin_dir


def _run(installed: Path, *args: str, tmp_path: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", RESNET_EXPLORER_RUNS=str(tmp_path / "runs"), HOME=str(tmp_path),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    return subprocess.run(list(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def test_every_module_imports_from_the_installed_wheel(installed, tmp_path):
    code = ("import explorer, importlib, pkgutil, sys\n"
            "assert explorer.__file__.startswith(sys.argv[1]), explorer.__file__\n"
            "names = [m.name for m in pkgutil.walk_packages(explorer.__path__, 'explorer.')]\n"
            "for name in names: importlib.import_module(name)\n"
            "print(len(names))\n")
    result = _run(installed, str(installed / "python"), "-c", code, str(installed.parent), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert int(result.stdout) > 50


def test_the_cli_trains_and_analyses_from_the_installed_wheel(installed, tmp_path):
    script = str(installed / "resnet-explorer")
    summary = _run(installed, script, "summary", "--depth", "56", "--json", tmp_path=tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout)["total_params"] == 853018
    train = _run(installed, script, "train", "--dataset", "synthetic", "--synthetic-size", "200", "--depths", "8",
                 "--compare", "residual", "--iterations", "4", "--batch-size", "16", "--device", "cpu",
                 "--name", "wheel", tmp_path=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    analyze = _run(installed, script, "analyze", str(run_dir), "--what", "responses", "--subset", "20",
                   "--device", "cpu", tmp_path=tmp_path)
    assert analyze.returncode == 0, analyze.stderr[-3000:]
    assert list((run_dir / "analysis").glob("responses-*.json"))


def test_the_app_starts_from_the_installed_wheel(installed, tmp_path):
    """The app's own start-up (application, main window with every tab, the guide) from the installed package."""
    code = ("import sys, explorer\n"
            "assert explorer.__file__.startswith(sys.argv[1]), explorer.__file__\n"
            "from explorer.gui.app import make_application, make_window\n"
            "app = make_application()\n"
            "window = make_window()\n"
            "window.show()\n"
            "app.processEvents()\n"
            "assert window.isVisible()\n"
            "print(window.windowTitle())\n"
            "window.close()\n")
    result = _run(installed, str(installed / "python"), "-c", code, str(installed.parent), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "ResNet Explorer" in result.stdout
