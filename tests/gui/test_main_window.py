"""The main window's wiring: tabs, menus and shortcuts, settings across restarts, and closing during training."""

from __future__ import annotations

import pytest

from explorer.config import ModelConfig
from explorer.gui import main_window
from explorer.gui.main_window import MainWindow

WAIT_MS = 30_000


def open_window(qtbot, settings, runs_dir) -> MainWindow:
    window = MainWindow(settings, runs_dir)
    qtbot.addWidget(window)
    window.show()
    return window


def wait_for_summary(qtbot, window: MainWindow, config: ModelConfig) -> None:
    qtbot.waitUntil(
        lambda: window.layer_table.summary is not None and window.layer_table.summary.config == config
        and not window.summaries.busy,
        timeout=WAIT_MS,
    )


def test_tabs_menus_and_shortcuts(qtbot, settings, runs_dir):
    window = open_window(qtbot, settings, runs_dir)
    wait_for_summary(qtbot, window, ModelConfig())
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == ["Architecture", "Training", "Runs"]
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert set(menus) == {"File", "Run", "Help"}
    shortcuts = {
        a.shortcut().toString() for menu in menus.values() for a in menu.actions() if not a.shortcut().isEmpty()
    }
    for key in ("Ctrl+Return", "Ctrl+.", "Ctrl+E", "Ctrl+O", "Ctrl+Q"):
        assert key in shortcuts
    assert any("CSV" in a.text() for a in menus["File"].actions())
    assert any("About" in a.text() for a in menus["Help"].actions())
    assert "He" in main_window.ABOUT and "Deep Residual Learning for Image Recognition" in main_window.ABOUT


def test_the_architecture_reaches_the_training_page_and_the_status_bar(qtbot, settings, runs_dir, monkeypatch):
    window = open_window(qtbot, settings, runs_dir)
    seen = []
    monkeypatch.setattr(window.training, "set_model_config", seen.append)
    window.architecture.set_config(ModelConfig(depth=32, preact=True))
    assert seen[-1] == ModelConfig(depth=32, preact=True)
    wait_for_summary(qtbot, window, ModelConfig(depth=32, preact=True))
    window.training.status_message.emit("Training started")
    assert window.statusBar().currentMessage() == "Training started"


def test_opening_a_run_from_the_browser_shows_the_training_tab(qtbot, settings, runs_dir, monkeypatch):
    window = open_window(qtbot, settings, runs_dir)
    opened = []
    monkeypatch.setattr(window.training, "open_run", opened.append)
    run = runs_dir / "20260101-000000-run"
    window.runs.open_requested.emit(run)
    assert opened == [run]
    assert window.tabs.currentWidget() is window.training
    wait_for_summary(qtbot, window, ModelConfig())


def test_settings_persist_across_a_restart(qtbot, settings, runs_dir):
    window = open_window(qtbot, settings, runs_dir)
    config = ModelConfig(family="imagenet", depth=34, shortcut="C")
    window.architecture.set_config(config)
    wait_for_summary(qtbot, window, config)
    window.resize(window.width(), 560)  # the offscreen screen is 800×600: a size that fits it is kept as it is
    window.tabs.setCurrentIndex(2)
    window.close()

    again = open_window(qtbot, settings, runs_dir)
    assert again.architecture.config == config
    assert again.tabs.currentIndex() == 2
    assert again.height() == 560
    wait_for_summary(qtbot, again, config)


def test_a_saved_config_that_no_longer_validates_falls_back_to_the_default(qtbot, settings, runs_dir):
    settings.setValue(main_window.CONFIG_KEY, '{"family": "cifar", "depth": 21}')
    window = open_window(qtbot, settings, runs_dir)
    assert window.architecture.config == ModelConfig()
    wait_for_summary(qtbot, window, ModelConfig())


@pytest.mark.parametrize("choice, closes, keep", [
    (main_window.CANCEL, False, None),
    (main_window.KEEP, True, True),
    (main_window.STOP, True, False),
])
def test_closing_during_training_asks(qtbot, settings, runs_dir, monkeypatch, choice, closes, keep):
    window = open_window(qtbot, settings, runs_dir)
    wait_for_summary(qtbot, window, ModelConfig())
    asked, shutdowns = [], []
    monkeypatch.setattr(main_window, "ask_close_during_training", lambda parent: asked.append(parent) or choice)
    monkeypatch.setattr(window.training, "is_training", lambda: True)
    real_shutdown = window.training.shutdown

    def shutdown(keep_running: bool) -> None:
        shutdowns.append(keep_running)
        real_shutdown(keep_running=False)  # nothing really trains here; stop what the page runs

    monkeypatch.setattr(window.training, "shutdown", shutdown)
    window.close()
    assert asked == [window]
    assert window.isVisible() is not closes
    assert shutdowns == ([] if keep is None else [keep])
    if not closes:
        monkeypatch.setattr(window.training, "is_training", lambda: False)
        window.close()
        assert shutdowns == [False]


def test_closing_when_idle_does_not_ask(qtbot, settings, runs_dir, monkeypatch):
    window = open_window(qtbot, settings, runs_dir)
    wait_for_summary(qtbot, window, ModelConfig())
    monkeypatch.setattr(main_window, "ask_close_during_training", lambda parent: pytest.fail("asked"))
    window.close()
    assert not window.isVisible()
