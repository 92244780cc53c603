"""Steps of the flows a person goes through, shared by the GUI tests that drive the main window: a tiny run
filled into the form, Start pressed and waited for, a run opened from the Runs tab."""

from __future__ import annotations

from pathlib import Path

from seen import fill, is_training, pick

CHILD_MS = 120_000


def tiny_run(window, compare="both", iterations=40, depths="8"):
    window.tabs.setCurrentWidget(window.training)
    if window.action("newRun").isEnabled():
        window.action("newRun").trigger()
    fill_tiny_form(window.training.form, compare, iterations, depths, images=400, batch=16)


def fill_tiny_form(form, compare="both", iterations=40, depths="8", images=400, batch=16) -> None:
    """Type a tiny synthetic run into the Training form: no paper depths, ``depths`` typed, fp32, custom recipe."""
    fill(form, "synthetic", compare, [int(d) for d in depths.split(",")], iterations, batch, images=images)
    pick(form, "precision", "fp32")


def start(qtbot, window) -> None:
    """Press Start and wait until the run's trainer is started (the checks before it take a moment)."""
    window.action("startRun").trigger()
    qtbot.waitUntil(lambda: is_training(window), timeout=30_000)


def open_in_runs_tab(qtbot, window, path: Path, action: str = "openRun") -> None:
    window.tabs.setCurrentWidget(window.runs)
    window.runs.refresh()
    qtbot.waitUntil(lambda: window.runs.select_path(path), timeout=5000)
    window.runs.action(action).trigger()
